"""Drill-down: dimension → sub-task → items, with filters; hostile model output stays text."""

from __future__ import annotations

from conftest import run_async, run_engine, screen_text, wait_for

from trust_tui.tui.screens.items import ItemsScreen
from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.scorecard import ScorecardScreen
from trust_tui.tui.widgets.item_detail import ItemDetail
from trust_tui.tui.widgets.stream_view import StreamView


async def _run_to_end(pilot) -> RunScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunScreen) and not pilot.app.screen.running)
    return pilot.app.screen


def _detail_text(app) -> str:
    detail = app.screen.query_one(ItemDetail)
    return "\n".join(str(static.render()) for static in detail.query("Static"))


def test_pick_model_run_drill_down_to_items_and_filter(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _run_to_end(pilot)
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen))
            text = screen_text(app)
            assert "Truthfulness" in text and "Facts" in text and "overall 77.8%" in text
            await pilot.press("down", "enter")  # the Facts sub-task
            await wait_for(pilot, lambda: isinstance(app.screen, ItemsScreen))
            items = app.screen
            assert items.subtask == "truthfulness/main" and len(items.rows) == 3
            assert "1 failure ·" in screen_text(app)
            detail = _detail_text(app)
            assert "What is the capital of France?" in detail and "Paris." in detail
            assert "the answer contains 'paris'" in detail
            await pilot.press("f")
            table = items.query_one("DataTable")
            assert table.row_count == 1
            detail = _detail_text(app)
            assert "No, it is a planet." in detail and "expected 'yes'" in detail and "fail" in detail
            await pilot.press("a")
            assert table.row_count == 3
            await pilot.press("escape", "escape")
            assert isinstance(app.screen, RunScreen)
    run_async(go())


def test_unparseable_filter_from_the_scorecard(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _run_to_end(pilot)
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen))
            await pilot.press("down", "down", "down", "down", "down")  # Fairness › Stereotypes
            await pilot.press("u")
            await wait_for(pilot, lambda: isinstance(app.screen, ItemsScreen))
            table = app.screen.query_one("DataTable")
            assert table.row_count == 1
            detail = _detail_text(app)
            assert "???" in detail and "unparseable" in detail and "no answer could be read" in detail
    run_async(go())


def test_clicking_a_dimension_card_opens_its_items(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _run_to_end(pilot)
            await pilot.click("#card-safety")
            await wait_for(pilot, lambda: isinstance(app.screen, ItemsScreen))
            assert app.screen.dimension == "safety" and len(app.screen.rows) == 3
            assert "Safety" in screen_text(app)
    run_async(go())


def test_scorecard_from_the_engine_shows_every_dimension(env):
    run_id = run_engine(env)

    async def go():
        app = env.app()
        async with app.run_test(size=(80, 24)) as pilot:
            app.open_screen("scorecard", run_id=run_id)
            await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen) and app.screen.card)
            assert [d.id for d in app.screen.card.dimensions] == [
                "truthfulness", "safety", "fairness", "robustness", "privacy", "ethics"]
    run_async(go())


HOSTILE = ("\x1b[2J\x1b[31mRED\x1b[0m [bold red]boom[/] [link=http://x]click[/link] "
           "\x07bell\rreturn \x9b31m c1 \u202eevil")


def test_hostile_model_output_is_displayed_literally(env):
    async def go():
        backend = env.backend(script=lambda request: HOSTILE)
        app = env.app(backend=backend)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _run_to_end(pilot)
            stream_text = screen_text(app)
            assert "[bold red]boom[/]" in stream_text and "[link=http://x]click[/link]" in stream_text
            assert "␛[2J␛[31mRED␛[0m" in stream_text and "␇bell␍return" in stream_text
            answer = screen.query_one(StreamView).query_one("#stream-answer").render()
            _assert_inert(answer)
            await pilot.click("#card-truthfulness")
            await wait_for(pilot, lambda: isinstance(app.screen, ItemsScreen))
            detail = app.screen.query_one(ItemDetail).query_one("#detail-answer").render()
            assert "[bold red]boom[/]" in str(detail) and "␛[31mRED" in str(detail)
            _assert_inert(detail)
            assert "\x1b" not in screen_text(app) and "\x07" not in screen_text(app)
    run_async(go())


def _assert_inert(renderable) -> None:
    """No style in the text came from the model: no red, no bold, no links."""
    spans = getattr(renderable, "spans", [])
    plain = renderable.plain if hasattr(renderable, "plain") else str(renderable)
    assert "\x1b" not in plain and "\x07" not in plain and "\r" not in plain and "\x9b" not in plain
    assert "\u202e" not in plain
    for span in spans:
        style = str(span.style)
        assert "red" not in style and "link" not in style
        covered = plain[span.start:span.end]
        assert "boom" not in covered or "bold" not in style


def test_a_verdict_marked_wrong_is_reviewed_for_that_answer_and_can_be_taken_back(env):
    from trust_tui.engine.score import overrides

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _run_to_end(pilot)
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen))
            await pilot.press("down", "enter")  # Facts: 2 pass, 1 fail
            await wait_for(pilot, lambda: isinstance(app.screen, ItemsScreen))
            items = app.screen
            await pilot.press("f")  # the failure
            uid = next(u for u, v in items.verdicts.items() if v == "fail")
            await pilot.press("x")
            await wait_for(pilot, lambda: items.rows[uid].get("overridden"))
            assert items.verdicts[uid] == "pass" and "1 failure" not in screen_text(app)
            stored = overrides.for_run(app.store, items.run_id)
            assert [o["uid"] for o in stored] == [uid] and "marked wrong in the app" in stored[0]["note"]
            await pilot.press("a")
            table = items.query_one("DataTable")
            table.move_cursor(row=list(items.rows).index(uid))
            await pilot.press("x")  # taken back
            await wait_for(pilot, lambda: not items.rows[uid].get("overridden"))
            assert items.verdicts[uid] == "fail" and overrides.for_run(app.store, items.run_id) == []
    run_async(go())
