"""History per model, any scorecard, and Markdown export to a path the user chooses."""

from __future__ import annotations

from conftest import run_async, run_engine, screen_text, wait_for

from trust_tui.tui.screens.export import ExportScreen
from trust_tui.tui.screens.history import HistoryScreen
from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.scorecard import ScorecardScreen


async def _history(pilot) -> HistoryScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)
    await pilot.press("h")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen) and pilot.app.screen.runs)
    return pilot.app.screen


def test_history_lists_the_runs_of_the_model_and_opens_a_scorecard(env):
    first = run_engine(env)
    second = run_engine(env, dimensions=("safety",))

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _history(pilot)
            assert list(screen.runs) == [str(second), str(first)]
            text = screen_text(app)
            assert "2026-01-01 00:00" in text and "quick*" in text and "18/18" in text and "77.8%" in text
            await pilot.press("down", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen))
            assert app.screen.run_id == first
    run_async(go())


def test_history_of_another_model_is_empty_and_can_show_all(env):
    run_engine(env)

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            await pilot.press("down", "h")  # the Ollama model: never run
            await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
            await pilot.pause(0.3)
            assert not app.screen.runs and "No runs yet" in screen_text(app)
            await pilot.press("m")
            await wait_for(pilot, lambda: len(app.screen.runs) == 1)
            assert "Runs of all models" in screen_text(app)
    run_async(go())


def test_export_markdown_to_a_chosen_path_and_say_where(env, tmp_path):
    run_id = run_engine(env)
    target = tmp_path / "reports" / "card.md"

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _history(pilot)
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
            field = app.screen.query_one("#export-path")
            assert field.value.endswith(f"trust-tui-run-{run_id}.md")
            field.value = ""
            await pilot.press(*str(target))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
            assert any(str(target) in n.message for n in app._notifications)
    run_async(go())
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# trust-tui scorecard") and "Truthfulness" in text


def test_export_to_the_default_path_from_the_run_screen(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and not app.screen.running)
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
    run_async(go())
    assert (tmp_path / "trust-tui-run-1.md").read_text(encoding="utf-8").startswith("# trust-tui")


def test_export_to_an_unwritable_place_says_why_and_stays_open(env, tmp_path):
    run_id = run_engine(env)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            app.open_screen("export", run_id=run_id)
            await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen)
                           and app.screen.query("#export-path"))
            app.screen.query_one("#export-path").value = str(blocker / "card.md")
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ExportScreen)
            assert "cannot write" in str(app.screen.query_one("#export-error").render())
            await pilot.press("escape")
            assert isinstance(app.screen, ModelsScreen)
    run_async(go())
