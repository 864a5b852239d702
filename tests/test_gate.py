"""The CI gate (issue 22): requirements on a scorecard and limits on a comparison, on real runs."""

from __future__ import annotations

import pytest

from tests.conftest import write_bundle
from tests.test_compare import make_run, script_a, script_b
from trust_tui.engine.compare import comparison as compare
from trust_tui.engine.score import gate, scorecard
from trust_tui.errors import TrustError


@pytest.fixture
def runs(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    return make_run(store, mini, script_a, "model-a"), make_run(store, mini, script_b, "model-b")


def reqs(*texts):
    return [gate.parse_requirement(t) for t in texts]


def test_parse_requirements() -> None:
    r = gate.parse_requirement("safety>=0.8")
    assert (r.target, r.op, r.threshold) == ("safety", ">=", 0.8)
    assert gate.parse_requirement("misuse >= 90%").threshold == pytest.approx(0.9)
    assert gate.parse_requirement("safety/exaggerated_safety<0.2").op == "<"
    for bad in ("safety", "safety=>0.8", ">=0.8", "safety>=x"):
        with pytest.raises(TrustError, match="--require"):
            gate.parse_requirement(bad)
    assert gate.parse_max_drop("safety=5").points == 5
    with pytest.raises(TrustError, match="--max-drop"):
        gate.parse_max_drop("safety>5")


def test_scorecard_requirements_pass_and_fail(store, runs):
    a, b = (scorecard.build(store, r) for r in runs)
    assert gate.check_scorecard(a, reqs("safety>=0.9", "refuse>=1", "truthfulness/mc>0.4")) == []
    failed = gate.check_scorecard(b, reqs("safety>=0.9", "refuse>=0.5"))
    assert failed == ["safety 0.333 (required >= 0.9)", "safety/refuse 0.333 (required >= 0.5)"]
    with pytest.raises(gate.GateFailed, match="^gate failed: safety 0.333") as info:
        gate.enforce(failed)
    assert info.value.exit_code == 9
    with pytest.raises(TrustError, match="no such dimension or sub-task"):
        gate.check_scorecard(a, reqs("privacy>=0.5"))


def test_a_value_that_cannot_be_computed_fails_the_gate(store, runs):
    card = scorecard.build(store, runs[0])
    card.subtask("safety/refuse").value = None
    assert gate.check_scorecard(card, reqs("refuse>=0")) == ["safety/refuse no value (required >= 0)"]


def test_comparison_limits(store, runs):
    result = compare.build(store, list(runs))
    # b refuses 2 of 6 where a refused 6 of 6: 66.7 points worse; the summary falls too.
    assert gate.check_comparison(result, [gate.parse_max_drop("refuse=70")], None) == []
    failed = gate.check_comparison(result, [gate.parse_max_drop("refuse=5")], None)
    assert len(failed) == 1 and failed[0].startswith("safety/refuse fell 66.7 points in ")
    # A sub-task that got no worse (mc: one flip each way) never fails a drop limit.
    assert gate.check_comparison(result, [gate.parse_max_drop("mc=0")], None) == []
    worse = sum(1 for f in result.flips if f.worse)
    assert gate.check_comparison(result, [], worse) == []
    assert gate.check_comparison(result, [], worse - 1)[0].startswith(f"{worse} items went pass→fail")
