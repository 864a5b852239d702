"""The engine's one ETA (trust_tui/engine/run/progress.py): the measured rate blended with a rate
from past runs, cached units left out, and the run screen showing that figure."""

from __future__ import annotations

import math

import pytest

from trust_tui.engine.run.progress import PRIOR_WEIGHT, Progress, eta_seconds, prior_unit_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_without_a_prior_the_eta_is_the_measured_rate_and_unknown_before_the_first_unit():
    assert eta_seconds(10, 0.0, 0) is None
    assert eta_seconds(10, 20.0, 4) == pytest.approx(50.0)  # 5 s a unit, 10 left
    assert eta_seconds(0, 20.0, 4) == 0.0


def test_a_prior_rate_stands_in_first_and_fades_as_units_finish():
    # Before anything finished: the prior alone.
    assert eta_seconds(10, 0.0, 0, prior_unit_seconds=2.0) == pytest.approx(20.0)
    # The run turns out to take 6 s a unit: the ETA moves from the prior towards it.
    after_3 = eta_seconds(10, 18.0, 3, prior_unit_seconds=2.0)
    after_30 = eta_seconds(10, 180.0, 30, prior_unit_seconds=2.0)
    assert 20.0 < after_3 < after_30 < 60.0
    assert after_3 == pytest.approx(10 * (18.0 + 2.0 * PRIOR_WEIGHT) / (3 + PRIOR_WEIGHT))
    assert after_30 == pytest.approx(10 * (180.0 + 2.0 * PRIOR_WEIGHT) / (30 + PRIOR_WEIGHT))
    # A prior of no use (zero, negative) is ignored.
    assert eta_seconds(10, 20.0, 4, prior_unit_seconds=0.0) == pytest.approx(50.0)


@pytest.mark.parametrize("args", [(-1, 1.0, 1), (1, -1.0, 1), (1, 1.0, -1), (1, math.nan, 1)])
def test_nonsense_gives_no_eta(args):
    assert eta_seconds(*args) is None


def test_progress_counts_only_what_costs_time_and_waits_for_the_start():
    clock = Clock()
    progress = Progress(prior_unit_seconds=None, clock=clock)
    assert progress.eta() is None  # not planned yet: no ETA, not an ETA of zero
    progress.plan(total=10, to_produce=6)  # 4 answers come from the cache
    assert progress.eta() is None  # nothing measured, no prior
    progress.start()
    clock.now += 5.0  # loading and the first prompt: the unit is not done yet
    for _ in range(4):
        progress.finished_one(produced=False)  # cached: free
    assert progress.remaining == 6 and progress.eta() is None
    clock.now += 5.0
    progress.finished_one()
    progress.finished_one()
    assert progress.done == 6 and progress.remaining == 4
    assert progress.eta() == pytest.approx(4 * 10.0 / 2)
    clock.now += 10.0
    progress.end()
    assert progress.eta() is None  # ended with work left (cancelled): no ETA
    assert progress.elapsed() == pytest.approx(20.0)
    done = Progress(clock=clock)
    done.plan(total=1)
    done.finished_one()
    done.end()
    assert done.eta() == 0.0


def test_progress_without_to_produce_counts_the_total_less_the_free_units():
    clock = Clock()
    progress = Progress(prior_unit_seconds=1.0, clock=clock)
    assert progress.eta() is None
    progress.plan(total=5)
    assert progress.eta() == pytest.approx(5.0)  # the prior, before the start
    progress.finished_one(produced=False)
    assert progress.remaining == 4


def test_the_prior_comes_from_past_runs_of_the_store(env, finished_run):
    from trust_tui.engine import bundles
    from trust_tui.engine.run.store import Store

    workload = bundles.load("tui-mini").select("quick")
    store = Store(env.store_path)
    try:
        seconds = prior_unit_seconds(store, env.model_id, workload)
        assert prior_unit_seconds(store, env.model_id, []) is None
    finally:
        store.close()
    # The fake backend's run measured a rate, so there is a prior, and it is per answer.
    assert seconds is not None and seconds > 0


def test_no_past_runs_no_prior(env):
    from trust_tui.engine import bundles
    from trust_tui.engine.run.store import Store

    store = Store(env.store_path)
    try:
        assert prior_unit_seconds(store, env.model_id, bundles.load("tui-mini").select("quick")) is None
    finally:
        store.close()
