"""Budget mode (issue 22): the largest stratified subset of a profile that fits measured rates."""

from __future__ import annotations

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.run import api, budget
from trust_tui.engine import bundles
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec
from trust_tui.errors import TrustError


def test_durations() -> None:
    assert budget.parse_duration("90s") == 90 and budget.parse_duration("10m") == 600
    assert budget.parse_duration("1h30m") == 5400 and budget.parse_duration("45") == 45
    for bad in ("", "ten minutes", "5x", "m"):
        with pytest.raises(TrustError, match="--budget"):
            budget.parse_duration(bad)


def _history(store, model_id: str, tokens: int, seconds: float) -> None:
    """A finished past run with measured throughput, as the run loop records it."""
    store.create_run({"spec_hash": "x", "spec": "{}", "model_id": model_id, "model_name": "m", "bundle": "b",
                      "status": "finished", "total": 10, "generated": 10, "cached": 0, "skipped": 0,
                      "tokens_generated": tokens, "gen_seconds": seconds, "wall_seconds": seconds,
                      "subtasks": "[]", "started": 0.0})


def test_the_largest_per_subtask_size_that_fits(store, tmp_path):
    bundle = bundles.load(str(write_bundle(tmp_path)))  # 3 sub-tasks of 6 items, max_tokens 16
    _history(store, "m1", tokens=160, seconds=10.0)  # 16 tok/s, 16 tokens per answer: 1 s per item
    full = bundle.select("full")
    whole = budget.plan(store, "m1", bundle, "full", (), (), 60)
    assert whole.per_subtask == 0 and whole.items == len(full) == 18  # fits: nothing left out
    plan = budget.plan(store, "m1", bundle, "full", (), (), 10)
    assert plan.seconds <= 10 and plan.per_subtask >= 1 and plan.left_out == 18 - plan.items
    bigger = bundle.select("full", per_subtask=plan.per_subtask + 1)
    assert budget.estimate(store, "m1", bigger).seconds > 10  # the next size would not fit
    for sub in bundle.subtasks:  # stratified: every sub-task keeps items
        assert any(s.id == sub.id for s, _ in bundle.select("full", per_subtask=plan.per_subtask))
    assert "left out" in plan.describe(10)
    with pytest.raises(TrustError, match="too short"):
        budget.plan(store, "m1", bundle, "full", (), (), 0.5)


def test_no_history_is_a_clear_error(store, tmp_path):
    bundle = bundles.load(str(write_bundle(tmp_path)))
    with pytest.raises(TrustError, match="needs a measured rate"):
        budget.plan(store, None, bundle, "full", (), (), 60)


def test_a_budgeted_run_records_its_size_and_is_its_own_spec(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    small = api.run(spec=RunSpec(bundle=mini, profile="full", per_subtask=2), store=store,
                    backend=FakeBackend(model_id="m")).run_id
    whole = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store, backend=FakeBackend(model_id="m")).run_id
    a, b = store.run(small), store.run(whole)
    assert a["total"] < b["total"] and a["spec_hash"] != b["spec_hash"]
    assert a["comparability_hash"] != b["comparability_hash"]
    from trust_tui.export.report import reproduce_command

    assert "--per-subtask 2" in reproduce_command(a) and "--per-subtask" not in reproduce_command(b)
    again = api.run(spec=RunSpec(bundle=mini, profile="full", per_subtask=2), store=store,
                    backend=FakeBackend(model_id="m"))
    assert again.generated == 0 and again.total == a["total"]  # the same budget reproduces the same items
    assert store.run(again.run_id)["comparability_hash"] == a["comparability_hash"]
