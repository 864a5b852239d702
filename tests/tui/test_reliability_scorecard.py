"""The app's scorecard says so when a run's answers look broken (8/8 empty and the like)."""

from __future__ import annotations

from tests.tui.conftest import run_async, run_engine, screen_text, wait_for
from trust_tui.tui.screens.scorecard import ScorecardScreen


def _shown(env, backend) -> tuple[bool, str]:
    run_id = run_engine(env, backend=backend)

    async def go():
        app = env.app()
        async with app.run_test(size=(120, 30)) as pilot:
            app.open_screen("scorecard", run_id=run_id)
            await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen) and app.screen.card)
            await pilot.pause()
            return app.screen.query_one("#scorecard-warning").display, screen_text(app)
    return run_async(go())


def test_empty_answers_get_a_banner(env):
    displayed, text = _shown(env, env.backend(script=lambda request: ""))
    assert displayed and "answers look broken" in text and "empty" in text


def test_real_answers_get_none(env):
    displayed, text = _shown(env, env.backend())
    assert not displayed and "answers look broken" not in text
