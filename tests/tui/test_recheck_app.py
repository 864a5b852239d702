"""The determinism check from the app: k on the scorecard (or the run setup's option) asks the
run's items again through the engine's recheck (engine/run/recheck.py) with the scripted backend,
shows progress, can be stopped, and the scorecard's detail shows the saved figures."""

from __future__ import annotations

from conftest import ANSWERS, run_async, run_engine, screen_text, wait_for

from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.prompt import PromptScreen
from trust_tui.tui.screens.scorecard import ScorecardScreen


def _saved(env, run_id):
    from trust_tui.engine.run import recheck
    from trust_tui.engine.run.store import Store

    store = Store(env.store_path)
    try:
        return recheck.latest(store, run_id)
    finally:
        store.close()


def _flipping_script(request) -> str:
    """The fixture's answers, except that t3 now says yes: one verdict changes on a re-ask."""
    if "<<t3>>" in request.prompt:
        return "Yes, the sun is a star."
    for ident, answer in ANSWERS.items():
        if f"<<{ident}>>" in request.prompt:
            return answer
    return "I don't know."


async def _scorecard(pilot, run_id) -> ScorecardScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)
    pilot.app.open_screen("scorecard", run_id=run_id)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ScorecardScreen) and pilot.app.screen.card)
    return pilot.app.screen


def test_k_rechecks_the_shown_run_and_the_detail_shows_what_changed(env, monkeypatch):
    run_id = run_engine(env)
    progress = []
    original = ScorecardScreen.on_recheck_progress

    def recording(self, message):
        progress.append((message.done, message.total, message.stage))
        original(self, message)

    monkeypatch.setattr(ScorecardScreen, "on_recheck_progress", recording)

    async def go():
        backend = env.backend(script=_flipping_script, token_delay=0.002)
        app = env.app(backend=backend)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _scorecard(pilot, run_id)
            await wait_for(pilot, lambda: "Recheck" in screen_text(app))  # the footer is drawn
            assert "Stop check" not in screen_text(app)
            await pilot.press("k")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
            await pilot.press("ctrl+a", "backspace", "backspace", "1", "8", "enter")  # all 18 items
            await wait_for(pilot, lambda: app.screen is screen and backend.generated
                           and not screen.checking and app.service.idle, 30)
            assert len(backend.generated) == 36  # really asked again: batched, then alone
            screen.query_one("DataTable").move_cursor(row=0)  # the Truthfulness row
            await pilot.pause()
            text = screen_text(app)
            assert "recheck batched: 17/18 answers identical (94%), 1 verdict changed (main 1)" in text
            assert "recheck alone: 17/18" in text
            await pilot.press("down")  # the Facts sub-task, where t3 changed
            assert "determinism check: batched 2/3 identical, 1 verdict changed" in screen_text(app)
            assert any("Determinism check saved" in n.title for n in app._notifications)
    run_async(go())
    saved = _saved(env, run_id)
    assert saved["sample"] == 18 and [p["mode"] for p in saved["passes"]] == ["batched", "alone"]
    assert [p["changed_verdicts"] for p in saved["passes"]] == [1, 1]
    # Progress went up to both passes' answers, and never past them.
    counted = [(done, total) for done, total, stage in progress if not stage]
    assert counted and counted[-1] == (36, 36)
    assert all(done <= total == 36 for done, total in counted)


def test_c_stops_a_check_and_nothing_is_saved(env):
    run_id = run_engine(env)
    long_answer = " ".join(["word"] * 300)

    async def go():
        backend = env.backend(script=lambda request: long_answer, token_delay=0.01)
        app = env.app(backend=backend)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _scorecard(pilot, run_id)
            screen.start_recheck(6)
            await wait_for(pilot, lambda: "answers" in str(screen.query_one("#scorecard-status").render())
                           or backend.generated, 10)
            assert screen.checking and "Stop check" in screen_text(app)
            # One piece of engine work at a time: a run asked for meanwhile is refused, said so.
            assert app.start_run(screen_model(app), None) is None
            await wait_for(pilot, lambda: any("The engine is busy (recheck)" in n.message
                                              for n in app._notifications))
            await pilot.press("c")
            await wait_for(pilot, lambda: not screen.checking and app.service.idle, 20)
            assert any("Determinism check cancelled" in n.title for n in app._notifications)
            assert "Stop check" not in screen_text(app)
            assert len(backend.generated) < 12
    run_async(go())
    assert _saved(env, run_id) is None


def screen_model(app):
    from trust_tui.tui import data

    return data.ModelRow(path=app.config.store_path, name="any", source="path")


def test_a_check_of_a_run_without_answers_is_a_one_line_error(env):
    import sqlite3

    run_id = run_engine(env, dimensions=("safety",))
    conn = sqlite3.connect(env.store_path)
    with conn:  # the items back to pending, as in a run stopped before its first answer
        conn.execute("update run_items set status = 'pending' where run_id = ?", [run_id])
    conn.close()

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _scorecard(pilot, run_id)
            screen.start_recheck(4)
            await wait_for(pilot, lambda: not screen.checking and app.service.idle, 10)
            errors = [n for n in app._notifications if n.severity == "error"]
            assert errors and "no generated answers" in errors[0].message
    run_async(go())
