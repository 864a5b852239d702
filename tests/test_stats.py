"""Statistics against values computed by hand or with SciPy (values written down here)."""

import math

import pytest

from trust_tui.engine import stats


@pytest.mark.parametrize("k,n,lo,hi", [
    (5, 10, 0.236593, 0.763407),      # scipy.stats.binomtest(5,10).proportion_ci('wilson')
    (0, 10, 0.0, 0.277533),
    (10, 10, 0.722467, 1.0),
    (81, 263, 0.255289, 0.366210),    # by hand: centre 0.310749, half-width 0.055460
])
def test_wilson(k, n, lo, hi):
    got = stats.wilson(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-5)
    assert got[1] == pytest.approx(hi, abs=1e-5)


@pytest.mark.parametrize("x,dof,p", [
    (3.841459, 1, 0.05), (10.0, 4, 0.040428), (100.0, 50, 3.4549e-05), (0.5, 2, 0.778801),
    (25.0, 10, 0.005345),
])
def test_chi2_sf(x, dof, p):
    assert stats.chi2_sf(x, dof) == pytest.approx(p, rel=1e-3)


def test_chi2_independence_by_hand():
    # expected counts all 15: ((10-15)^2/15)*4 = 6.667, dof 1, p = 0.00982 (scipy chi2_contingency, correction=False)
    stat, dof, p = stats.chi2_independence({"a": {"x": 10, "y": 20}, "b": {"x": 20, "y": 10}})
    assert stat == pytest.approx(6.6667, rel=1e-4)
    assert dof == 1
    assert p == pytest.approx(0.009823, rel=1e-3)


def test_chi2_degenerate_tables_mean_no_evidence():
    assert stats.chi2_independence({"a": {"x": 5}, "b": {"x": 7}})[2] == 1.0
    assert stats.chi2_independence({"a": {"x": 5, "y": 3}})[2] == 1.0


def test_pearson_and_fisher():
    xs = [1, 2, 3, 4, 5]
    ys = [2, 4, 5, 4, 5]
    r = stats.pearson(xs, ys)
    assert r == pytest.approx(0.774597, rel=1e-5)
    lo, hi = stats.fisher_ci(r, 5)
    assert lo < r < hi
    assert math.isnan(stats.pearson([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("b,c,p", [
    (2, 10, 0.038574),   # 2 * (C(12,0)+C(12,1)+C(12,2)) / 2^12
    (5, 5, 1.0),
    (0, 6, 0.03125),
    (1, 0, 1.0),
])
def test_mcnemar_exact(b, c, p):
    assert stats.mcnemar_exact(b, c) == pytest.approx(p, rel=1e-5)


def test_holm_matches_hand_computation():
    # sorted: 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    values = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2, 0.6]
    first = stats.bootstrap_mean(values)
    assert first == stats.bootstrap_mean(values)
    assert first[0] < sum(values) / len(values) < first[1]


def test_paired_bootstrap_detects_a_clear_shift():
    a = [0.0] * 30
    b = [1.0] * 20 + [0.0] * 10
    diff, (lo, hi), p = stats.paired_bootstrap(a, b)
    assert diff == pytest.approx(2 / 3)
    assert lo > 0 and p < 0.01
    assert stats.paired_bootstrap(a, a)[2] == 1.0


def test_similarities_and_scores_are_not_shown_as_percentages():
    from trust_tui.engine.scorecard import fmt, fmt_ci

    assert fmt(0.8123, "pair_similarity") == "0.812"
    assert fmt(0.05, "mean_nonrefused") == "0.050"
    assert fmt_ci((0.1, 0.2), "mean_nonrefused") == "[0.100, 0.200]"
    assert fmt(0.25, "proportion") == "25.0%"
    assert fmt(0.25, "leakage_rates") == "25.0%"


def test_disparagement_with_one_answer_for_everyone_says_there_is_no_test():
    import json

    from trust_tui.engine import scorecard

    def rows(labels):
        return [{"uid": f"x/y:{i}", "subtask": "x/y", "status": "done", "scored": True,
                 "score_value": 1.0, "score_label": label, "answer": "",
                 "item": json.dumps({"gold": None, "group": {"sex": "f" if i % 2 else "m"}})}
                for i, label in enumerate(labels)]

    spec = {"id": "x/y", "title": "t", "metric": "p", "aggregate": "chi2", "direction": "higher",
            "scorer": "choice", "scorer_version": 3, "aggregate_options": {}}
    same = scorecard.aggregate(spec, rows(["B"] * 8))
    assert same.value == 1.0 and "same answer to every item (B)" in same.extras["note"]
    varied = scorecard.aggregate(spec, rows(["A", "B"] * 4))
    assert "note" not in varied.extras


def test_conflicting_choices_are_counted_and_reported():
    import json

    from trust_tui.engine import scorecard
    from trust_tui.export.markdown import _extras

    rows = [{"uid": f"x/y:{i}", "subtask": "x/y", "status": "done", "scored": True,
             "score_value": value, "score_label": label, "answer": "",
             "item": json.dumps({"gold": "A"})}
            for i, (value, label) in enumerate([(1.0, "A"), (0.0, "conflicting"), (0.0, "B"),
                                                (0.0, "conflicting"), (None, "unparseable")])]
    spec = {"id": "x/y", "title": "Hallucination", "metric": "accuracy", "aggregate": "proportion",
            "direction": "higher", "scorer": "choice", "scorer_version": 3, "aggregate_options": {}}
    result = scorecard.aggregate(spec, rows)
    assert (result.value, result.unparseable, result.extras["conflicting"]) == (0.2, 1, 2)
    notes = _extras({"title": "Hallucination", "extras": result.extras})
    assert any("2 answers give one option's letter and another option's text" in n for n in notes)
