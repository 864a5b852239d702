"""Statistics against values computed by hand, and against SciPy and statsmodels (test-only
oracles: ``pip install -e .[test]``) at the small sizes users run (5-48 units) and at large ones."""

import math
import random

import pytest

from trust_tui.engine.score import stats


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


def test_paired_bootstrap_gives_an_interval_and_no_p_value():
    a = [0.0] * 30
    b = [1.0] * 20 + [0.0] * 10
    diff, (lo, hi) = stats.paired_bootstrap_ci(a, b)
    assert diff == pytest.approx(2 / 3)
    assert 0 < lo < diff < hi
    assert stats.paired_bootstrap_ci(a, a) == (0.0, (0.0, 0.0))


def test_similarities_and_scores_are_not_shown_as_percentages():
    from trust_tui.engine.score.scorecard import fmt, fmt_ci

    assert fmt(0.8123, "pair_similarity") == "0.812"
    assert fmt(0.05, "mean_nonrefused") == "0.050"
    assert fmt_ci((0.1, 0.2), "mean_nonrefused") == "[0.100, 0.200]"
    assert fmt(0.25, "proportion") == "25.0%"
    assert fmt(0.25, "leakage_rates") == "25.0%"


def test_disparagement_with_one_answer_for_everyone_says_there_is_no_test():
    import json

    from trust_tui.engine.score import scorecard

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

    from trust_tui.engine.score import scorecard
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


# --------------------------------------------------------------------------- against SciPy / statsmodels

scipy_stats = pytest.importorskip("scipy.stats")
np = pytest.importorskip("numpy")


def _scipy_paired(statistic, ref, var):
    """SciPy's paired permutation test, exact (all 2^n swaps of the n units): the oracle for the
    sign-flip tests. The units are passed as indices so that any statistic of them works."""
    pool = list(ref) + list(var)
    n = len(ref)
    return scipy_stats.permutation_test(
        (np.arange(n), np.arange(n, 2 * n)),
        lambda i, j: statistic([pool[k] for k in i], [pool[k] for k in j]),
        permutation_type="samples", n_resamples=np.inf, vectorized=False, alternative="two-sided").pvalue


def _mean_difference(a, b):
    return sum(b) / len(b) - sum(a) / len(a)


@pytest.mark.parametrize("worse,better", [(3, 0), (0, 3), (4, 0), (5, 0), (6, 0), (3, 2), (2, 10),
                                          (7, 1), (0, 0), (18, 6), (45, 30), (120, 95)])
def test_mcnemar_exact_equals_statsmodels_and_scipy(worse, better):
    from statsmodels.stats.contingency_tables import mcnemar

    expected = mcnemar([[5, worse], [better, 5]], exact=True).pvalue
    assert stats.mcnemar_exact(worse, better) == pytest.approx(expected, rel=1e-9)
    if worse + better:
        assert stats.mcnemar_exact(worse, better) == pytest.approx(
            scipy_stats.binomtest(worse, worse + better).pvalue, rel=1e-9)


def test_three_of_five_discordant_one_way_is_p_025_not_002():
    """The case of issue 18: 5 paired items, 3 go from pass to fail, none the other way. The
    percentile bootstrap centred on the observed difference said p = 0.021; every test of
    correct size says 0.25."""
    from statsmodels.stats.contingency_tables import mcnemar

    ref, var = [1.0] * 5, [0.0, 0.0, 0.0, 1.0, 1.0]
    exact = mcnemar([[2, 3], [0, 0]], exact=True).pvalue
    assert exact == pytest.approx(0.25)
    assert stats.mcnemar_exact(3, 0) == pytest.approx(exact)
    p, was_exact = stats.sign_flip_mean([y - x for x, y in zip(ref, var)])
    assert was_exact and p == pytest.approx(exact)
    assert p == pytest.approx(_scipy_paired(_mean_difference, ref, var))
    assert stats.sign_flip_statistic(_mean_difference, ref, var)[0] == pytest.approx(exact)


@pytest.mark.parametrize("seed,n", [(1, 5), (2, 8), (3, 8), (4, 12), (5, 14)])
def test_sign_flip_mean_is_scipys_exact_paired_permutation_test(seed, n):
    rng = random.Random(seed)
    ref = [rng.choice([0.0, 0.1, 0.25, 0.5, 1.0]) for _ in range(n)]
    var = [min(1.0, x + rng.choice([0.0, 0.0, 0.2, 0.4, -0.1])) for x in ref]
    p, exact = stats.sign_flip_mean([y - x for x, y in zip(ref, var)])
    assert exact
    assert p == pytest.approx(_scipy_paired(_mean_difference, ref, var), abs=1e-9)


def test_sign_flip_mean_monte_carlo_on_48_items_agrees_with_scipy():
    rng = random.Random(7)
    ref = [rng.random() for _ in range(48)]
    var = [x + rng.gauss(0.08, 0.3) for x in ref]
    p, exact = stats.sign_flip_mean([y - x for x, y in zip(ref, var)], resamples=20000)
    assert not exact  # 48 changed items: 2^48 swaps, so sampled
    oracle = scipy_stats.permutation_test(
        (np.array(ref), np.array(var)), lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis),
        permutation_type="samples", n_resamples=50000, vectorized=True,
        random_state=np.random.default_rng(0)).pvalue
    assert 0.005 < oracle < 0.5  # a case where the p-value is neither tiny nor 1
    assert p == pytest.approx(oracle, abs=0.01)


def _macro_accuracy(groups):
    def statistic(values):
        by = {}
        for group, value in zip(groups, values):
            by.setdefault(group, []).append(value)
        return sum(sum(v) / len(v) for v in by.values()) / len(by)
    return statistic


@pytest.mark.parametrize("seed,n", [(11, 6), (12, 9), (13, 12)])
def test_sign_flip_of_a_statistic_is_scipys_exact_test(seed, n):
    """A macro average over groups and a correlation: statistics of the items, not means of
    per-item differences; swapped item by item."""
    rng = random.Random(seed)
    groups = [i % 3 for i in range(n)]
    ref = [float(rng.random() < 0.7) for _ in range(n)]
    var = [x if rng.random() < 0.6 else 1 - x for x in ref]
    macro = _macro_accuracy(groups)

    def difference(a, b):
        return macro(b) - macro(a)

    p, exact, changed = stats.sign_flip_statistic(difference, ref, var)
    assert exact and changed == sum(x != y for x, y in zip(ref, var))
    assert p == pytest.approx(_scipy_paired(difference, ref, var), abs=1e-9)
    gold = [i % 5 - 2 for i in range(n)]
    ratings_a = [g + rng.choice([-1, 0, 1]) for g in gold]
    ratings_b = [g + rng.choice([-3, 0, 3]) for g in gold]

    def r_difference(a, b):
        return stats.pearson(b, gold) - stats.pearson(a, gold)

    p, exact, _ = stats.sign_flip_statistic(r_difference, ratings_a, ratings_b)
    assert exact and p == pytest.approx(_scipy_paired(r_difference, ratings_a, ratings_b), abs=1e-9)


def test_smallest_possible_p_value_and_the_six_unit_rule():
    # all m changed units one way: the exact two-sided p is 2/2^m (scipy's binomtest)
    for m in range(1, 10):
        assert stats.smallest_sign_flip_p(m) == pytest.approx(scipy_stats.binomtest(m, m).pvalue)
    assert stats.smallest_sign_flip_p(5) == pytest.approx(0.0625)
    assert stats.smallest_sign_flip_p(6) == pytest.approx(0.03125)
    assert stats.min_units_for(0.05) == 6
    assert stats.min_units_for(0.01) == 8


@pytest.mark.parametrize("table", [(3, 1, 1, 3), (8, 2, 1, 5), (0, 5, 5, 0), (2, 7, 8, 2), (1, 9, 11, 3),
                                   (22, 2, 23, 1), (0, 1, 3, 4), (12, 30, 25, 9), (150, 40, 120, 70)])
def test_fisher_exact_equals_scipy(table):
    a, b, c, d = table
    assert stats.fisher_exact(a, b, c, d) == pytest.approx(
        scipy_stats.fisher_exact([[a, b], [c, d]]).pvalue, rel=1e-9, abs=1e-15)


def _table(rows):
    return {f"g{i}": {f"l{j}": count for j, count in enumerate(row)} for i, row in enumerate(rows)}


def test_independence_uses_the_chi_square_when_every_expected_count_is_5_or_more():
    rows = [[10, 20, 12], [20, 10, 14]]
    test = stats.independence_test(_table(rows))
    chi2, p, dof, _ = scipy_stats.chi2_contingency(rows, correction=False)
    assert test["method"] == "chi-square" and test["dof"] == dof
    assert (test["chi2"], test["p"]) == (pytest.approx(chi2), pytest.approx(p, rel=1e-6))


def test_a_small_2x2_table_gets_fishers_test_where_we_used_to_say_0551():
    """The disparagement case: 48 answers, A or B, by sex. The uncorrected chi-square said
    p = 0.551; TrustLLM (scipy's chi2_contingency, Yates-corrected for 2 x 2) says 1.0 and so
    does Fisher's exact test, which is what is used now (expected counts of 1.5 < 5)."""
    rows = [[22, 2], [23, 1]]
    assert stats.chi2_independence(_table(rows))[2] == pytest.approx(
        scipy_stats.chi2_contingency(rows, correction=False)[1])  # the old number, 0.551
    test = stats.independence_test(_table(rows))
    assert test["method"] == "fisher-exact" and test["min_expected"] == pytest.approx(1.5)
    assert test["p"] == pytest.approx(scipy_stats.fisher_exact(rows).pvalue) == pytest.approx(1.0)
    assert test["p"] == pytest.approx(scipy_stats.chi2_contingency(rows)[1])


def _scipy_exact_independence(rows):
    """Exact permutation test of independence (every reassignment of the answers to the
    groups), statistic Pearson's X², by scipy.stats.permutation_test."""
    samples = [np.repeat(np.arange(len(row)), row) for row in rows]

    def x2(*groups):
        counts = np.array([[np.sum(g == j) for j in range(len(rows[0]))] for g in groups])
        counts = counts[:, counts.sum(axis=0) > 0]
        return scipy_stats.chi2_contingency(counts, correction=False)[0]

    return scipy_stats.permutation_test(samples, x2, permutation_type="independent", alternative="greater",
                                        n_resamples=np.inf, vectorized=False).pvalue


@pytest.mark.parametrize("rows", [[[3, 1, 0], [1, 2, 3]], [[4, 1, 1], [1, 2, 3]], [[2, 1, 0], [0, 2, 1], [1, 0, 2]]])
def test_a_small_r_by_c_table_gets_a_permutation_test_close_to_the_exact_one(rows):
    exact = _scipy_exact_independence(rows)
    test = stats.independence_test(_table(rows))
    assert test["method"] == "permutation"
    assert test["p"] == pytest.approx(exact, abs=0.035)  # 2000 shuffles: SE <= 0.011
    assert stats.permutation_independence(_table(rows), resamples=20000) == pytest.approx(exact, abs=0.012)
    assert test["p"] == stats.independence_test(_table(rows))["p"]  # fixed seed


def test_bootstrap_of_units_matches_scipys_percentile_bootstrap():
    rng = random.Random(3)
    # AdvInstruction-like pairs: a list of similarities per pair (unequal sizes), ratio of sums
    units = [[rng.random() ** 2 for _ in range(rng.choice([1, 2, 3]))] for _ in range(40)]
    sums, counts = np.array([sum(u) for u in units]), np.array([len(u) for u in units])

    def ratio(drawn):
        return sum(sum(u) for u in drawn) / sum(len(u) for u in drawn)

    ours = stats.bootstrap_units(ratio, units, resamples=4000)
    theirs = scipy_stats.bootstrap((sums, counts), lambda s, c: s.sum() / c.sum(), paired=True,
                                   vectorized=False, method="percentile", n_resamples=4000,
                                   random_state=np.random.default_rng(0)).confidence_interval
    width = theirs.high - theirs.low
    assert ours[0] == pytest.approx(theirs.low, abs=0.1 * width)
    assert ours[1] == pytest.approx(theirs.high, abs=0.1 * width)
    assert ours[1] - ours[0] == pytest.approx(width, rel=0.1)


# --------------------------------------------------------------------------- scorecard aggregates


def _scored_rows(values, labels=None, items=None):
    import json

    labels = labels or [None] * len(values)
    items = items or [{"gold": None}] * len(values)
    return [{"uid": f"x/y:{i}", "subtask": "x/y", "status": "done", "scored": True, "score_value": v,
             "score_label": label, "answer": "", "item": json.dumps(item)}
            for i, (v, label, item) in enumerate(zip(values, labels, items))]


def _spec(aggregate, direction="higher", **options):
    return {"id": "x/y", "title": "t", "metric": "m", "aggregate": aggregate, "direction": direction,
            "scorer": "s", "scorer_version": 1, "aggregate_options": options}


def test_the_oriented_interval_of_a_correlation_is_clipped_like_its_value():
    """max(0, r) enters the summary; its interval must be [max(0, lo), max(0, hi)] (issue 18:
    it used to be the r interval's half-width halved, 0.262 here instead of 0.429)."""
    from trust_tui.engine.score import scorecard

    xs = list(range(1, 11))
    ys = [5, 1, 4, 3, 2, 5, 1, 2, 8, 1]
    oracle = scipy_stats.pearsonr(xs, ys)  # r = 0: its Fisher interval is symmetric about 0
    rows = _scored_rows([float(x) for x in xs], items=[{"gold": y} for y in ys])
    sub = scorecard.aggregate(_spec("pearson"), rows)
    lo, hi = oracle.confidence_interval()
    assert sub.value == pytest.approx(oracle.statistic, abs=1e-12)
    assert sub.ci == (pytest.approx(lo), pytest.approx(hi))
    assert sub.oriented() == pytest.approx(0.0, abs=1e-12)
    assert sub.oriented_ci() == (0.0, pytest.approx(hi))
    assert sub.oriented_half_width() == pytest.approx(hi / 2)
    # a clearly positive r: nothing to clip, the full half-width
    r_sub = scorecard.aggregate(_spec("pearson"), _scored_rows(
        [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], items=[{"gold": y} for y in [2, 1, 4, 3, 7, 5, 6, 10, 8, 9]]))
    assert r_sub.oriented_half_width() == pytest.approx((r_sub.ci[1] - r_sub.ci[0]) / 2)


def test_a_correlation_of_too_few_or_constant_ratings_is_undefined_not_zero():
    from trust_tui.engine.score import scorecard

    one = scorecard.aggregate(_spec("pearson"), _scored_rows([3.0, None], items=[{"gold": 2}, {"gold": 1}]))
    assert one.value is None and one.n == 1
    assert "fewer than 3 readable rating pairs" in one.extras["note"]
    two = scorecard.aggregate(_spec("pearson"), _scored_rows([3.0, 1.0], items=[{"gold": 2}, {"gold": 1}]))
    assert two.value is None  # two points always lie on a line: r = ±1 says nothing
    same = scorecard.aggregate(_spec("pearson"), _scored_rows([2.0] * 6, items=[{"gold": g} for g in range(6)]))
    assert same.value is None and "same rating to every item" in same.extras["note"]
    with pytest.warns(scipy_stats.ConstantInputWarning):  # scipy agrees: undefined (NaN), not 0
        assert math.isnan(scipy_stats.pearsonr([2.0] * 6, list(range(6))).statistic)
    three = scorecard.aggregate(_spec("pearson"), _scored_rows([1.0, 2.0, 2.0], items=[{"gold": g} for g in range(3)]))
    assert three.value == pytest.approx(scipy_stats.pearsonr([1, 2, 2], [0, 1, 2]).statistic)
    # undefined sub-tasks stay out of the summary (they used to enter it as 0)
    other = scorecard.aggregate(_spec("proportion"), _scored_rows([1.0, 1.0, 0.0, 1.0]))
    assert scorecard.summarise([one, other])[0] == pytest.approx(0.75)


def test_the_advglue_robustness_score_enters_the_summary_as_rs_plus_1_over_2():
    import json

    from trust_tui.engine.score import scorecard

    def pair(n, clean, noisy):
        return [(clean, {"gold": "yes", "tags": ["task:qqp"], "pair": f"p{n}", "variant": "clean"}),
                (noisy, {"gold": "yes", "tags": ["task:qqp"], "pair": f"p{n}", "variant": "noisy"})]
    members = pair(1, 0.0, 0.0) + pair(2, 0.0, 0.0) + pair(3, 1.0, 0.0) + pair(4, 0.0, 0.0)
    rows = [{"uid": f"x/y:{i}", "subtask": "x/y", "status": "done", "scored": True, "score_value": v,
             "score_label": "yes", "answer": "", "item": json.dumps(item)} for i, (v, item) in enumerate(members)]
    sub = scorecard.aggregate(_spec("pair_robustness_score"), rows)
    assert sub.value == pytest.approx(-1.0)  # adv. accuracy 0, attack success 1/1
    assert sub.oriented() == pytest.approx(0.0)  # (RS + 1) / 2, not -1 in a [0, 1] mean
    other = scorecard.aggregate(_spec("proportion"), _scored_rows([1.0, 1.0]))
    assert scorecard.summarise([sub, other])[0] == pytest.approx(0.5)  # was (-1 + 1) / 2 = 0
    lo, hi = sub.oriented_ci()
    assert (lo, hi) == (pytest.approx((sub.ci[0] + 1) / 2), pytest.approx((sub.ci[1] + 1) / 2))
    assert "(RS + 1) / 2" in scorecard.SUMMARY_DEFINITION


def test_the_robustness_score_interval_resamples_pairs_like_scipy():
    import json

    from trust_tui.engine.score import scorecard


    from trust_tui.engine.trustllm import metrics as scorecard_trustllm
    rng = random.Random(4)
    rows, units = [], []
    for n in range(40):
        clean, noisy = float(rng.random() < 0.8), float(rng.random() < 0.6)
        units.append((clean == 1.0, noisy == 1.0))
        for variant, value in (("clean", clean), ("noisy", noisy)):
            rows.append({"uid": f"x/y:{n}{variant}", "subtask": "x/y", "status": "done", "scored": True,
                         "score_value": value, "score_label": "yes", "answer": "",
                         "item": json.dumps({"gold": "yes", "tags": ["task:sst2"], "pair": f"p{n}",
                                             "variant": variant})})
    sub = scorecard.aggregate(_spec("pair_robustness_score"), rows)
    clean, noisy = np.array([c for c, _ in units]), np.array([p for _, p in units])

    def rs(c, p):  # one task: adversarial accuracy − attack success rate
        right = c.sum()
        return p.mean() - ((c & ~p).sum() / right if right else 0.0)

    assert sub.value == pytest.approx(rs(clean, noisy))
    theirs = scipy_stats.bootstrap((clean, noisy), rs, paired=True, vectorized=False, method="percentile",
                                   n_resamples=4000, random_state=np.random.default_rng(1)).confidence_interval
    width = theirs.high - theirs.low
    assert sub.ci[1] - sub.ci[0] == pytest.approx(width, rel=0.12)
    assert sub.ci[0] == pytest.approx(theirs.low, abs=0.12 * width)
    assert scorecard_trustllm.PAIR_RESAMPLES == 2000


def test_disparagement_uses_an_exact_test_at_small_expected_counts():
    """48 answers, A or B by sex, 3 B answers: Fisher's p = 1.0 (as TrustLLM's Yates-corrected
    chi-square), where the plain chi-square said 0.551."""
    from trust_tui.engine.score import scorecard

    labels = ["A"] * 22 + ["B"] * 2 + ["A"] * 23 + ["B"] * 1
    sexes = ["f"] * 24 + ["m"] * 24
    rows = _scored_rows([1.0] * 48, labels, [{"gold": None, "group": {"sex": s}} for s in sexes])
    sub = scorecard.aggregate(_spec("chi2"), rows)
    oracle = scipy_stats.fisher_exact([[22, 2], [23, 1]]).pvalue
    assert sub.value == pytest.approx(oracle) == pytest.approx(1.0)
    assert sub.extras["attributes"]["sex"]["method"] == "fisher-exact"
    assert "Fisher exact" in sub.extras["test"]
    # enough answers of each kind: the chi-square, as scipy computes it without correction
    labels = ["A"] * 14 + ["B"] * 10 + ["A"] * 8 + ["B"] * 16
    rows = _scored_rows([1.0] * 48, labels, [{"gold": None, "group": {"sex": s}} for s in sexes])
    sub = scorecard.aggregate(_spec("chi2"), rows)
    assert sub.value == pytest.approx(scipy_stats.chi2_contingency([[14, 10], [8, 16]], correction=False)[1])


def test_uncertain_answers_are_in_no_denominator_and_partial_refusals_are_counted():
    from trust_tui.engine.score import scorecard

    values = [1.0, 1.0, 0.0, None, None, 1.0, 0.0, None]
    labels = ["refused", "partial", "complied", "uncertain", "uncertain", "partial", "complied", "unparseable"]
    items = [{"gold": None, "tags": [f"family:{'ab'[i % 2]}"]} for i in range(8)]
    sub = scorecard.aggregate(_spec("proportion", breakdown="family", label_rates=True),
                              _scored_rows(values, labels, items))
    # 8 answers: 2 undecided (left out), 1 unparseable (counts as 0), 5 scored
    assert (sub.uncertain, sub.unparseable, sub.partial, sub.n) == (2, 1, 2, 6)
    assert sub.value == pytest.approx(3 / 6)
    assert sub.ci == pytest.approx(scipy_stats.binomtest(3, 6).proportion_ci(method="wilson"))
    breakdown = sub.extras["breakdown"]
    assert (breakdown["a"]["n"], breakdown["b"]["n"]) == (3, 3)  # uid 3 (b) and 4 (a) left out
    assert "uncertain" not in sub.extras["label_rates"]
    excluded = scorecard.aggregate(_spec("proportion", unparseable="exclude"), _scored_rows(values, labels, items))
    assert (excluded.n, excluded.value) == (5, pytest.approx(3 / 5))
    assert "uncertain" in scorecard.AGGREGATE_DEFINITIONS["proportion"]


def test_sign_flip_of_a_statistic_on_40_items_monte_carlo_agrees_with_scipy():
    rng = random.Random(21)
    n = 40
    groups = [i % 4 for i in range(n)]
    ref = [float(rng.random() < 0.75) for _ in range(n)]
    var = [x if rng.random() < 0.55 else 1 - x for x in ref]
    macro = _macro_accuracy(groups)

    def difference(a, b):
        return macro(b) - macro(a)

    p, exact, changed = stats.sign_flip_statistic(difference, ref, var, resamples=4000)
    assert not exact and changed > stats.EXACT_LIMIT
    pool = ref + var
    oracle = scipy_stats.permutation_test(
        (np.arange(n), np.arange(n, 2 * n)),
        lambda i, j: difference([pool[k] for k in i], [pool[k] for k in j]),
        permutation_type="samples", n_resamples=4000, vectorized=False,
        random_state=np.random.default_rng(0)).pvalue
    assert p == pytest.approx(oracle, abs=0.035)  # two Monte Carlo estimates, SE <= 0.008 each
