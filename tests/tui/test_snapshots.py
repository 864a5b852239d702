"""Snapshots of the main screens at 80×24 and 120×40 (fixed data, fake backend, no clock).

Update them with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the
report before committing.
"""

from __future__ import annotations

import pytest
from conftest import run_engine, wait_for

from trust_tui.tui.screens.history import HistoryScreen
from trust_tui.tui.screens.items import ItemsScreen
from trust_tui.tui.screens.models import ModelsScreen
from trust_tui.tui.screens.run import RunScreen
from trust_tui.tui.screens.scorecard import ScorecardScreen
from trust_tui.tui.screens.setup import RunSetupScreen
from trust_tui.tui.widgets.run_stats import RunStats

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


async def _models(pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen) and pilot.app.screen.loaded)


@pytest.mark.parametrize("size", SIZES)
def test_models_screen(snap_compare, env, size):
    run_engine(env)
    assert snap_compare(env.app(), terminal_size=size, run_before=_models)


@pytest.mark.parametrize("size", SIZES)
def test_setup_screen(snap_compare, env, size):
    async def before(pilot):
        await _models(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunSetupScreen) and pilot.app.screen.bundle)

    assert snap_compare(env.app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_run_screen_finished(snap_compare, env, size):
    async def before(pilot):
        await _models(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunScreen) and not pilot.app.screen.running)
        await pilot.pause(0.6)  # the next tick has run: nothing changes after this
        stats = pilot.app.screen.query_one(RunStats)
        stats.tok_s, stats.elapsed = 42.0, 12.0  # timings vary from run to run
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(env.app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_scorecard_screen(snap_compare, env, size):
    run_id = run_engine(env)

    async def before(pilot):
        await _models(pilot)
        pilot.app.open_screen("scorecard", run_id=run_id)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ScorecardScreen) and pilot.app.screen.card)
        await pilot.press("down")

    assert snap_compare(env.app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_items_screen(snap_compare, env, size):
    run_id = run_engine(env)

    async def before(pilot):
        await _models(pilot)
        pilot.app.open_screen("items", run_id=run_id, subtask="truthfulness/main")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ItemsScreen) and pilot.app.screen.rows)
        await pilot.press("down", "down")

    assert snap_compare(env.app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_history_screen(snap_compare, env, size):
    run_engine(env)
    run_engine(env, dimensions=("safety", "privacy"))

    async def before(pilot):
        await _models(pilot)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen) and pilot.app.screen.runs)

    assert snap_compare(env.app(), terminal_size=size, run_before=before)
