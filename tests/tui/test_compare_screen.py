"""The compare screen, mounted in a tiny app of its own: pick runs, see the table, open a flip."""

from __future__ import annotations

from types import SimpleNamespace

from conftest import ANSWERS, run_async, run_engine, screen_text, wait_for
from textual.app import App
from textual.widgets import DataTable, SelectionList

from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.tui.screens.compare import CompareScreen, FlipScreen
from trust_tui.tui.service import EngineService

OTHER = dict(ANSWERS, t1="London.", s2="Sorry, no.")  # t1 pass→fail, s2 fail→pass


def other_script(request) -> str:
    for ident, answer in OTHER.items():
        if f"<<{ident}>>" in request.prompt:
            return answer
    return "I don't know."


class CompareApp(App):
    """Just what the screen uses from the real app: its engine service (config, backend, job)."""

    def __init__(self, env, **screen_args) -> None:
        super().__init__()
        self.env = env
        self.config = SimpleNamespace(store_path=env.store_path, bundle="tui-mini", profile="quick",
                                      backend=self.make_backend)
        self.service = EngineService(self, self.config)
        self.screen_args = screen_args

    def make_backend(self, path):
        return self.env.backend()

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(**self.screen_args))


def two_runs(env) -> tuple[int, int]:
    first = run_engine(env)
    second = run_engine(env, backend=FakeBackend(other_script, model_id="other-model"))
    return first, second


def loaded(app) -> bool:
    return isinstance(app.screen, CompareScreen) and app.screen.comparison is not None


async def shown(pilot, app, timeout: float = 10.0) -> None:
    """Wait for the comparison, then for the screen to draw it."""
    await wait_for(pilot, lambda: loaded(app), timeout=timeout)
    await pilot.pause(0.1)


def test_compare_two_runs_and_open_a_flip_side_by_side(env):
    first, second = two_runs(env)

    async def go():
        app = CompareApp(env, run_ids=[first, second])
        async with app.run_test(size=(140, 44)) as pilot:
            await shown(pilot, app)
            screen = app.screen
            assert [v.run["id"] for v in screen.comparison.variants] == [first, second]
            text = screen_text(app)
            assert "Truthfulness" in text and "Safety" in text and "p (Holm)" in text
            flips = screen.query_one("#compare-flips", DataTable)
            assert flips.row_count == 2
            assert "1 pass→fail, 1 fail→pass" in str(flips.border_title)
            flips.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, FlipScreen))
            side = screen_text(app)
            assert "Paris." in side and "London." in side and "(reference)" in side
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
    run_async(go())


def test_selecting_a_subtask_filters_the_flips(env):
    first, second = two_runs(env)

    async def go():
        app = CompareApp(env, run_ids=[first, second])
        async with app.run_test(size=(140, 44)) as pilot:
            await shown(pilot, app)
            screen = app.screen
            table = screen.query_one("#compare-table", DataTable)
            table.focus()
            row = table.get_row_index("subtask:safety/main")
            table.move_cursor(row=row)
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert [f.subtask for f in screen.shown_flips.values()] == ["safety/main"]
            await pilot.press("a")
            assert len(screen.shown_flips) == 2
    run_async(go())


def test_pick_runs_in_the_list_then_compare(env):
    first, second = two_runs(env)

    async def go():
        app = CompareApp(env)
        async with app.run_test(size=(140, 44)) as pilot:
            screen = app.screen
            picker = screen.query_one(SelectionList)
            await wait_for(pilot, lambda: picker.option_count >= 2)
            await pilot.press("c")  # nothing selected yet: a warning, no comparison
            await pilot.pause(0.1)
            assert screen.comparison is None
            picker.focus()
            await pilot.press("space", "down", "space", "c")
            await shown(pilot, app)
            assert {v.run["id"] for v in screen.comparison.variants} == {first, second}
            assert not screen.query_one("#compare-side").display  # the table takes the width
            await pilot.press("p")
            await pilot.pause(0.1)
            assert f"comparison {screen.comparison.id} saved" in screen_text(app)
    run_async(go())


def test_a_model_without_a_run_is_run_first(env):
    second = run_engine(env, backend=FakeBackend(other_script, model_id="other-model"))

    async def go():
        app = CompareApp(env, run_ids=[second], models=[env.model_path])
        async with app.run_test(size=(140, 44)) as pilot:
            await shown(pilot, app, timeout=20)
            ids = [v.run["model_id"] for v in app.screen.comparison.variants]
            assert sorted(ids) == sorted([env.model_id, "other-model"])
            assert app.service.idle and app.service.data_version == 1  # the compare job ended
    run_async(go())


def test_a_stored_comparison_opens_by_id(env):
    from trust_tui.engine.compare import comparison as compare
    from trust_tui.engine.run.store import Store

    first, second = two_runs(env)
    store = Store(env.store_path)
    try:
        made = compare.compare(store, [first, second], reference="first", agreement_items=0)
    finally:
        store.close()

    async def go():
        app = CompareApp(env, compare_id=made.id)
        async with app.run_test(size=(120, 40)) as pilot:
            await shown(pilot, app)
            assert app.screen.comparison.id == made.id
            assert f"Comparison {made.id}" in screen_text(app)
    run_async(go())


def test_fits_80x24(env):
    first, second = two_runs(env)

    async def go():
        app = CompareApp(env, run_ids=[first, second])
        async with app.run_test(size=(80, 24)) as pilot:
            await shown(pilot, app)
            text = screen_text(app)
            assert "Compare" in text and "Back" in text  # the footer's bindings are visible
    run_async(go())


def test_the_app_opens_the_compare_screen_from_a_key(tmp_path):
    from trust_tui.tui.app import create_app

    app = create_app(store_path=tmp_path / "trust.db", discover=lambda: [])

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+k")
            await pilot.pause()
            assert isinstance(app.screen, CompareScreen)
    run_async(go())
