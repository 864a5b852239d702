"""Paired comparison of runs: statistics against hand-computed values, comparability, the stored
record and its exports. Runs are made by the engine with the scripted backend on a real store."""

from __future__ import annotations

import json
import math
import random

import pytest

from tests.conftest import write_bundle

scipy_stats = pytest.importorskip("scipy.stats")  # test-only oracles (pip install -e .[test])
np = pytest.importorskip("numpy")
from trust_tui.engine.run import api
from trust_tui.engine.compare import comparison as compare
from trust_tui.engine.score import metrics, scorecard, stats
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec
from trust_tui.export import compare_md

REFUSAL = "I'm sorry, but I can't help with that."


def script_a(request):
    if "harmful" in request.prompt:
        return REFUSAL
    if "Question" in request.prompt:
        return "Answer: A"
    return "Yes."


def script_b(request):
    prompt = request.prompt
    if "harmful" in prompt:  # refuses only 0 and 1: four pass→fail, no fail→pass
        return REFUSAL if ("number 0" in prompt or "number 1" in prompt) else "Sure, here it is."
    if "Question 0?" in prompt or "Question 1?" in prompt:  # m0 pass→fail, m1 fail→pass
        return "Answer: B"
    if "Question" in prompt:
        return "Answer: A"
    if "I think not. Is 0 even" in prompt:  # pair p0 now flips
        return "No."
    return "Yes."


@pytest.fixture
def mini(tmp_path):
    return str(write_bundle(tmp_path))


def make_run(store, mini, script, model_id, profile="full", **spec):
    return api.run(spec=RunSpec(bundle=mini, profile=profile, **spec), store=store,
                   backend=FakeBackend(script, model_id=model_id)).run_id


@pytest.fixture
def two_runs(store, mini):
    return make_run(store, mini, script_a, "model-a"), make_run(store, mini, script_b, "model-b")


def row(comparison, subtask_id):
    return next(r for r in comparison.subtasks + comparison.dimensions if r.id == subtask_id)


# --------------------------------------------------------------------------- statistics


def test_mcnemar_on_items_matches_hand_counts(store, two_runs):
    result = compare.build(store, list(two_runs))
    refuse = row(result, "safety/refuse").deltas[1]
    assert (refuse.test.method, refuse.test.n, refuse.test.unit) == ("mcnemar-exact", 6, "items")
    assert (refuse.test.pass_to_fail, refuse.test.fail_to_pass) == (4, 0)
    assert refuse.test.p == pytest.approx(2 / 16)  # two-sided binomial, 4 of 4 discordant one way
    assert refuse.value == pytest.approx(2 / 6 - 1) and refuse.better is False
    mc = row(result, "truthfulness/mc").deltas[1]
    assert (mc.test.pass_to_fail, mc.test.fail_to_pass, mc.test.p) == (1, 1, 1.0)
    assert mc.value == 0 and mc.better is None


def test_pair_metrics_are_paired_by_pair(store, two_runs):
    flip = row(compare.build(store, list(two_runs)), "truthfulness/flip")
    assert [c.value for c in flip.cells] == [0.0, pytest.approx(1 / 3)]
    test = flip.deltas[1].test
    assert (test.unit, test.n, test.pass_to_fail, test.fail_to_pass) == ("pairs", 3, 1, 0)
    assert test.p == 1.0
    assert flip.deltas[1].better is False  # a higher flip rate is worse


def test_holm_across_subtasks_by_hand(store, two_runs):
    result = compare.build(store, list(two_runs))
    raw = {r.id: r.deltas[1].test.p for r in result.subtasks}
    holm = {r.id: r.deltas[1].test.p_holm for r in result.subtasks}
    assert raw == {"truthfulness/mc": 1.0, "truthfulness/flip": 1.0, "safety/refuse": 0.125}
    # sorted: 0.125·3 = 0.375, then max(0.375, 1·2) capped at 1, then 1
    assert holm == {"truthfulness/mc": 1.0, "truthfulness/flip": 1.0, "safety/refuse": pytest.approx(0.375)}


def test_dimension_summary_delta_and_permutation_test(store, two_runs):
    result = compare.build(store, list(two_runs))
    safety = row(result, "safety").deltas[1]
    assert safety.value == pytest.approx(-2 / 3)
    assert safety.test.method == "paired-permutation"
    # one pass/fail sub-task with 4 discordant items all one way: the sign-flip test over the
    # 2^4 swaps is McNemar's, P = 2 · (1/2)^4 = 0.125 exactly (it used to be a Monte Carlo
    # estimate, hence the old abs=0.03); 4 changed units can never reach p < 0.05
    assert safety.test.p == pytest.approx(0.125) and safety.test.exact
    assert safety.test.p == pytest.approx(row(result, "safety/refuse").deltas[1].test.p)
    assert "2/2^4 = 0.125" in safety.test.too_small
    assert safety.test.ci[1] <= 0  # bootstrap interval of the difference
    truth = row(result, "truthfulness")
    # summary = mean(accuracy, 1 - flip rate): (0.5 + 1)/2 vs (0.5 + 2/3)/2
    assert truth.cells[0].value == pytest.approx(0.75)
    assert truth.cells[1].value == pytest.approx(7 / 12)


def test_identical_runs_show_no_difference(store, mini):
    a = make_run(store, mini, script_a, "model-a")
    b = make_run(store, mini, script_a, "model-a2")
    result = compare.build(store, [a, b])
    for r in result.subtasks + result.dimensions:
        assert r.deltas[1].value == 0
        assert r.deltas[1].test.p == 1.0
    assert result.flips == []
    assert result.identical[1]["share"] == 1.0


def test_mean_metric_uses_an_exact_sign_flip_test(store, tmp_path):
    items = {"tox": [{"id": f"t{i}", "prompt": f"Say something {i}."} for i in range(8)]}
    subtasks = '''
[dimensions.safety.subtasks.tox]
items = "items/tox.jsonl"
scorer = "tox-fixture"
metric = "toxicity"
aggregate = "mean"
direction = "lower"
'''
    mini = str(write_bundle(tmp_path, "toxmini", items=items, subtasks=subtasks))
    from trust_tui.engine.scorers import base
    from trust_tui.engine.types import Score

    def score(item, text, options):
        return Score(float(text.split()[-1]), "", "")

    base._REGISTRY["tox-fixture"] = base.Scorer("tox-fixture", 1, score)
    try:
        values_a = [0.1, 0.2, 0.0, 0.4, 0.1, 0.0, 0.3, 0.2]
        values_b = [0.3, 0.2, 0.5, 0.4, 0.6, 0.1, 0.3, 0.9]

        def scripted(values):
            return lambda request: f"value {values[int(request.prompt.split('something ')[1][0])]}"

        a = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store,
                    backend=FakeBackend(scripted(values_a), model_id="ma")).run_id
        b = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store,
                    backend=FakeBackend(scripted(values_b), model_id="mb")).run_id
        delta = row(compare.build(store, [a, b]), "safety/tox").deltas[1]
    finally:
        del base._REGISTRY["tox-fixture"]
    # This used to pin the percentile-bootstrap p-value, 0.001: anti-conservative. Only 5 items
    # changed, all the same way, and the exact sign-flip test over their 2^5 swaps gives 2/32.
    oracle = scipy_stats.permutation_test((np.array(values_a), np.array(values_b)),
                                          lambda x, y: np.mean(y) - np.mean(x), permutation_type="samples",
                                          n_resamples=np.inf, vectorized=False).pvalue
    assert delta.test.method == "paired-permutation" and delta.test.exact
    assert delta.value == pytest.approx(sum(values_b) / 8 - sum(values_a) / 8)
    assert delta.test.p == pytest.approx(oracle) == pytest.approx(2 / 32)
    assert delta.test.ci == pytest.approx(stats.paired_bootstrap_ci(values_a, values_b, compare.RESAMPLES,
                                                                    compare.SEED)[1])
    assert delta.test.changed == 5 and "p ≥ 2/2^5 = 0.062" in delta.test.too_small
    assert delta.better is False  # more toxic


def test_unit_values_reproduce_every_scorecard_metric(store, two_runs):
    """The comparison's per-unit values must average to exactly the scorecard's numbers."""
    for run_id in two_runs:
        run = store.run(run_id)
        rows = list(store.item_rows(run_id))
        for spec in json.loads(run["subtasks"]):
            mine = [r for r in rows if r["subtask"] == spec["id"]]
            values = [v for v in compare.unit_values(spec, mine).values() if v is not None]
            assert sum(values) / len(values) == pytest.approx(scorecard.aggregate(spec, mine).value)


def _rows(values, golds, labels=None):
    return [{"uid": f"x/y:{i}", "subtask": "x/y", "status": "done", "scored": True,
             "score_value": v, "score_label": (labels or [None] * len(values))[i],
             "item": json.dumps({"gold": g, "pair": None})}
            for i, (v, g) in enumerate(zip(values, golds))]


def _scipy_paired(statistic, ref, var):
    """SciPy's exact paired permutation test on any statistic of the units (given as indices)."""
    pool = list(ref) + list(var)
    n = len(ref)
    return scipy_stats.permutation_test(
        (np.arange(n), np.arange(n, 2 * n)),
        lambda i, j: statistic([pool[k] for k in i], [pool[k] for k in j]),
        permutation_type="samples", n_resamples=np.inf, vectorized=False).pvalue


def test_pearson_is_compared_by_a_sign_flip_test_of_r():
    golds = [1, 2, 3, 4, 5, 6, 7, 8]
    ref = _rows([1, 2, 3, 4, 5, 6, 7, 8], golds)  # r = 1
    var = _rows([2, 1, 4, 3, 6, 5, 8, 7], golds)
    spec = {"id": "x/y", "aggregate": "pearson", "direction": "higher", "aggregate_options": {}}
    test, flips = compare.subtask_test(spec, ref, var)
    expected_r = stats.pearson([2, 1, 4, 3, 6, 5, 8, 7], golds)
    assert test.method == "paired-permutation" and test.n == 8 and flips == [] and test.exact

    def difference(a, b):
        return metrics.get("pearson").value_of(b) - metrics.get("pearson").value_of(a)

    assert test.diff == pytest.approx(expected_r - 1)
    assert test.p == pytest.approx(_scipy_paired(difference, ref, var))
    assert test.ci[0] <= expected_r - 1 <= test.ci[1]
    # by hand: resampling the same items in both runs, r_var − r_ref is never positive here
    observed, ci = compare.paired_statistic_bootstrap(
        lambda rows: metrics.get("pearson").value_of(rows), ref, var)
    assert observed == pytest.approx(expected_r - 1)
    assert ci[1] <= 0 and ci == test.ci


def test_paired_statistic_bootstrap_matches_a_plain_reimplementation():
    a = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    b = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    observed, ci = compare.paired_statistic_bootstrap(mean, a, b, resamples=500, seed=3)
    rng = random.Random(3)
    diffs = []
    for _ in range(500):
        picks = [rng.randrange(8) for _ in range(8)]
        diffs.append(mean([b[i] for i in picks]) - mean([a[i] for i in picks]))
    diffs.sort()
    assert observed == pytest.approx(-0.25)
    assert ci == (diffs[int(0.025 * 499)], diffs[math.ceil(0.975 * 499)])


def test_chi2_gets_no_paired_test_and_says_why():
    spec = {"id": "x/y", "aggregate": "chi2", "direction": "higher", "aggregate_options": {}}
    test, flips = compare.subtask_test(spec, _rows([1, 0], [None, None], ["A", "B"]),
                                       _rows([1, 0], [None, None], ["A", "B"]))
    assert test.method == "none" and test.p is None and "p-value" in test.note and flips == []


# --------------------------------------------------------------------------- flips and agreement


def test_flips_list_both_answers(store, two_runs):
    result = compare.build(store, list(two_runs))
    directions = [(f.subtask, f.unit, f.direction) for f in result.flips]
    assert ("truthfulness/mc", "truthfulness/mc:m1", "fail→pass") in directions
    assert sum(1 for f in result.flips if f.worse) == 6
    pair = next(f for f in result.flips if f.subtask == "truthfulness/flip")
    assert pair.unit == "p0" and [m.variant for m in pair.members] == ["base", "persona"]
    persona = pair.members[1]
    assert persona.answers == ("Yes.", "No.") and persona.labels == ("yes", "no")
    refuse = next(f for f in result.flips if f.unit == "safety/refuse:r3")
    assert refuse.members[0].answers == (REFUSAL, "Sure, here it is.")


def test_identical_answer_share_by_hand(store, two_runs):
    same = compare.build(store, list(two_runs)).identical[1]
    # 18 items: refuse differs on r2..r5 (4), mc on m0 and m1 (2), flip on f0p (1)
    assert (same["n"], same["identical"]) == (18, 11)
    assert same["by_dimension"]["safety"] == {"n": 6, "identical": 2, "share": pytest.approx(1 / 3)}


def test_cost_columns_come_from_the_stored_answers(store, two_runs):
    result = compare.build(store, list(two_runs))
    cost = result.variants[1].cost
    assert cost["backend"] == "fake" and cost["peak_rss_mb"] > 0
    assert cost["run_tok_s"] > 0  # generated tokens over the run's wall time
    assert cost["gen_tok_s"] is None  # speed is measured on model files; the fake has none


# --------------------------------------------------------------------------- comparability, reference


def test_runs_that_measured_different_things_are_refused_unless_forced(store, mini):
    a = make_run(store, mini, script_a, "model-a", profile="full")
    b = make_run(store, mini, script_b, "model-b", profile="quick")
    with pytest.raises(compare.NotComparable, match="profile quick vs full.*--force"):
        compare.compare(store, [a, b], reference="first", agreement_items=0)
    forced = compare.compare(store, [a, b], reference="first", force=True, agreement_items=0)
    assert forced.forced and forced.problems
    text = compare_md.render(compare_md.build(forced))
    assert "compared with --force although the runs are not comparable" in text
    assert compare_md.build(forced)["comparison"]["forced"] is True


def test_reference_choice(store, two_runs):
    runs = [store.run(i) for i in two_runs]
    ordered, rule = compare.order_runs(store, runs, "2")
    assert [r["id"] for r in ordered] == [two_runs[1], two_runs[0]] and rule == "position 2"
    ordered, rule = compare.order_runs(store, runs, "largest")  # no model files: equal sizes
    assert ordered[0]["id"] == two_runs[0] and "equal size" in rule
    with pytest.raises(Exception, match="position from 1 to 2"):
        compare.order_runs(store, runs, 3)


def test_a_run_given_twice_is_refused(store, two_runs):
    with pytest.raises(Exception, match="given twice"):
        compare.compare(store, [two_runs[0], str(two_runs[0])], agreement_items=0)


# --------------------------------------------------------------------------- records and exports


def test_record_is_stored_and_recomputed_from_the_store(store, two_runs):
    made = compare.compare(store, list(two_runs), reference="first", agreement_items=0)
    assert made.id == 1
    row_ = compare.record(store, "latest")
    assert json.loads(row_["run_ids"]) == list(two_runs) and row_["reference_run"] == two_runs[0]
    loaded = compare.load(store, made.id)
    assert [r.deltas[1].test.p for r in loaded.subtasks] == [r.deltas[1].test.p for r in made.subtasks]
    with pytest.raises(Exception, match="no comparison 9"):
        compare.load(store, 9)


def test_models_given_as_paths_are_run_through_api_run(store, mini, tmp_path):
    from tests.tui.conftest import write_fake_gguf

    first = write_fake_gguf(tmp_path / "m" / "demo.Q8_0.gguf")
    second = write_fake_gguf(tmp_path / "m" / "demo.Q4_K_M.gguf", elements=2 * 1024 * 1024)
    scripts = {first.name: script_a, second.name: script_b}

    def factory(path):
        return FakeBackend(scripts[path.name], model_id=path.name)

    stages = []
    result = compare.compare(store, [str(second), str(first)], RunSpec(bundle=mini, profile="full"),
                             agreement_items=0, backend_factory=factory, on_stage=stages.append,
                             reference="first")
    assert [v.run["model_id"] for v in result.variants] == [second.name, first.name]
    assert len(store.runs()) == 2


def test_export_compare_from_the_cli(store, two_runs, tmp_path):
    from click.testing import CliRunner

    from trust_tui.cli import cli

    runner = CliRunner()
    made = runner.invoke(cli, ["compare", str(two_runs[0]), str(two_runs[1]), "--reference", "first",
                               "--agreement-items", "0", "--quiet"])
    assert made.exit_code == 0, made.output
    assert "comparison 1" in made.output and "export --compare 1" in made.output
    md = runner.invoke(cli, ["export", "--compare", "latest", "--format", "md"])
    assert md.exit_code == 0, md.output
    assert "## Dimensions" in md.output and "## Flipped items" in md.output
    assert "| Safety | 100.0% [80.5, 100.0] | 33.3% [3.2, 63.5] | -66.7 pt ▼ |" in md.output
    assert "exact McNemar: 4 pass→fail, 0 fail→pass of 6 items" in md.output
    out = tmp_path / "c.json"
    js = runner.invoke(cli, ["export", "--compare", "1", "--format", "json", "-o", str(out)])
    assert js.exit_code == 0, js.output
    data = json.loads(out.read_text())
    assert data["format"] == "trust-tui-comparison/1"
    assert [v["run_id"] for v in data["variants"]] == list(two_runs)
    refuse = next(s for s in data["subtasks"] if s["id"] == "safety/refuse")
    assert refuse["variants"][1]["test"]["p"] == 0.125
    assert len(data["flips"]) == 7


def test_cli_compare_errors_are_one_line(store, mini):
    from trust_tui.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "41", "42"])
    assert exit_info.value.code == 5


def test_three_variants_each_against_the_reference(store, mini):
    a = make_run(store, mini, script_a, "model-a")
    b = make_run(store, mini, script_b, "model-b")
    c = make_run(store, mini, script_a, "model-c")
    result = compare.compare(store, [a, b, c], reference="first", agreement_items=0)
    refuse = row(result, "safety/refuse")
    assert [d.value if d else None for d in refuse.deltas] == [None, pytest.approx(-2 / 3), 0.0]
    assert {f.variant for f in result.flips} == {1}  # model-c answers like the reference
    report = compare_md.build(result)
    assert [v["label"] for v in report["variants"]] == ["model-a", "model-b", "model-c"]
    text = compare_md.render(report)
    assert "| Dimension | `model-a` | `model-b` | Δ | p (Holm) | `model-c` | Δ | p (Holm) |" in text
    assert "### `model-c` against `model-a`: 0 pass→fail, 0 fail→pass" in text


def test_item_statistics_reproduce_the_scorecard_aggregates():
    """Each metric's fast value (what resampling recomputes) must equal the scorecard's own value."""
    rng = random.Random(5)
    rows = []
    for i in range(40):
        gold = rng.choice(["A", "B", "C"])
        label = rng.choice(["A", "B", "C", "no-email", "refused", "disclosed-correct"])
        value = None if i % 9 == 0 else rng.choice([0.0, 1.0, 0.25, 0.5])
        rows.append({"uid": f"x/y:{i}", "subtask": "x/y", "status": "done", "scored": True,
                     "score_value": value, "score_label": label, "answer": "",
                     "item": json.dumps({"gold": gold, "pair": None, "tags": [f"cell:{i % 3}", f"task:{i % 2}"],
                                         "group": {"sex": "f" if i % 2 else "m"}})})
    ratings = [dict(r, item=json.dumps({"gold": i % 5, "pair": None}),
                    score_value=None if r["score_value"] is None else float((i * 7) % 5))
               for i, r in enumerate(rows)]
    cases = [("macro_proportion", {"by": "gold"}, rows), ("macro_f1", {"by": "task"}, rows),
             ("leakage_rates", {"by": "cell"}, rows), ("mean_nonrefused", {}, rows),
             ("chi2", {}, rows), ("pearson", {}, ratings)]
    for aggregate, options, data in cases:
        spec = {"id": "x/y", "title": "t", "metric": "m", "aggregate": aggregate, "direction": "higher",
                "scorer": "s", "scorer_version": 1, "aggregate_options": options}
        expected = scorecard.aggregate(spec, data).value
        assert metrics.get(aggregate).value_of(data, options) == pytest.approx(expected), aggregate


def test_a_mean_metric_is_never_treated_as_pass_fail():
    spec = {"id": "x/y", "aggregate": "mean", "direction": "lower", "aggregate_options": {}}
    test, _ = compare.subtask_test(spec, _rows([0.0, 1.0, 0.0], [None] * 3), _rows([0.0, 1.0, 1.0], [None] * 3))
    assert test.method == "paired-permutation"  # was "paired-bootstrap": only intervals bootstrap now
    assert "too small" in test.too_small and "2/2^3" in test.too_small


def test_a_dimension_difference_uses_only_subtasks_scored_in_both_runs(store, mini):
    def unreadable_flips(request):
        return "Hmm." if "Is " in request.prompt and "even" in request.prompt else script_a(request)

    a = make_run(store, mini, script_a, "model-a")
    b = make_run(store, mini, unreadable_flips, "model-b")
    result = compare.build(store, [a, b])
    assert row(result, "truthfulness/flip").cells[1].value is None
    truth = row(result, "truthfulness")
    # summaries: A = mean(0.5, 1 - 0) = 0.75, B = mean(0.5) = 0.5; over mc alone they are equal
    assert (truth.cells[0].value, truth.cells[1].value) == (0.75, 0.5)
    delta = truth.deltas[1]
    assert delta.value == 0 and "over the 1 sub-task scored in both runs (not Flip)" in delta.note
    assert delta.test.p == 1.0
    text = compare_md.render(compare_md.build(result))
    assert "| Truthfulness | 75.0%" in text and "+0.0 pt *" in text


# --------------------------------------------------------------------------- issue 18: sizes users run


def test_three_of_five_items_going_wrong_is_mcnemar_p_025_and_too_small():
    from statsmodels.stats.contingency_tables import mcnemar

    spec = {"id": "x/y", "aggregate": "proportion", "direction": "higher", "aggregate_options": {}}
    test, flips = compare.subtask_test(spec, _rows([1.0] * 5, [None] * 5), _rows([0.0, 0.0, 0.0, 1.0, 1.0], [None] * 5))
    assert (test.method, test.pass_to_fail, test.fail_to_pass) == ("mcnemar-exact", 3, 0)
    assert test.p == pytest.approx(mcnemar([[2, 3], [0, 0]], exact=True).pvalue) == pytest.approx(0.25)
    assert len(flips) == 3
    assert "too small to detect a change at α = 0.05" in test.too_small and "2/2^5 = 0.062" in test.too_small
    assert test.too_small in test.note


def test_mcnemar_on_48_items_matches_statsmodels_and_can_detect():
    from statsmodels.stats.contingency_tables import mcnemar

    ref = [1.0] * 30 + [0.0] * 18
    var = [0.0] * 9 + [1.0] * 21 + [1.0] * 2 + [0.0] * 16  # 9 pass→fail, 2 fail→pass
    spec = {"id": "x/y", "aggregate": "proportion", "direction": "higher", "aggregate_options": {}}
    test, _ = compare.subtask_test(spec, _rows(ref, [None] * 48), _rows(var, [None] * 48))
    table = [[21, 9], [2, 16]]
    assert test.p == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert test.too_small == "" and test.changed == 11


def test_a_dimension_too_small_to_test_says_so_in_every_output(store, two_runs):
    from click.testing import CliRunner

    from trust_tui.cli import cli
    from trust_tui.tui.screens.compare import fmt_p

    result = compare.compare(store, list(two_runs), reference="first", agreement_items=0)
    refuse = row(result, "safety/refuse").deltas[1].test  # 4 discordant items of 6
    assert "4 of 6 items changed" in refuse.too_small
    assert fmt_p(refuse).endswith("†")  # the app's p column
    out = CliRunner().invoke(cli, ["compare", str(two_runs[0]), str(two_runs[1]), "--reference", "first",
                                   "--agreement-items", "0", "--quiet"])
    assert out.exit_code == 0, out.output
    assert "0.125 (0.375)†" in out.output
    assert "† Refuse" in out.output or "† refuse" in out.output.lower()
    text = compare_md.render(compare_md.build(result))
    assert "Too small for any outcome to reach p < 0.05:" in text
    assert "4 of 6 items changed between the runs" in text
    assert compare_md.build(result)["subtasks"][-1]["variants"][1]["test"]["too_small"]


def _pair_rows(pairs):
    """Rows of pair items: pairs = [(pair id, task, [(variant, value, answer), ...]), ...]."""
    out = []
    for pair, task, members in pairs:
        for variant, value, answer in members:
            out.append({"uid": f"x/y:{pair}{variant}", "subtask": "x/y", "status": "done", "scored": True,
                        "score_value": value, "score_label": "yes" if value else "no", "answer": answer,
                        "item": json.dumps({"gold": "yes", "pair": pair, "variant": variant,
                                            "tags": [f"task:{task}"]})})
    return out


def _similarity_runs():
    words = ["bees make honey", "from nectar", "in the hive", "every summer", "for winter"]
    rng = random.Random(2)
    ref_pairs, var_pairs = [], []
    for n in range(8):
        base = " ".join(words[: 2 + n % 3])
        ref_pairs.append((f"i{n}", "t", [("clean", 1.0, base), ("typo", 1.0, base if n % 2 else words[0]),
                                         ("url", 1.0, base)]))
        var_pairs.append((f"i{n}", "t", [("clean", 1.0, base), ("typo", 1.0, rng.choice(words)),
                                         ("url", 1.0 if n != 3 else None, rng.choice(words))]))
    return _pair_rows(ref_pairs), _pair_rows(var_pairs)


def test_pair_similarity_is_tested_and_resampled_by_pair():
    from trust_tui.engine.trustllm import metrics as tl

    ref_rows, var_rows = _similarity_runs()
    spec = {"id": "robustness/x", "title": "AdvInstruction", "aggregate": "pair_similarity",
            "direction": "higher", "aggregate_options": {}, "summary": True}
    test, _ = compare.subtask_test(spec, ref_rows, var_rows)
    a, b = tl.similarity_units(ref_rows), tl.similarity_units(var_rows)
    keys = sorted(a)
    assert (test.method, test.unit, test.n, test.exact) == ("paired-permutation", "pairs", 8, True)

    def difference(x, y):
        return tl.similarity_of(y) - tl.similarity_of(x)

    assert test.p == pytest.approx(_scipy_paired(difference, [a[k] for k in keys], [b[k] for k in keys]))
    assert test.diff == pytest.approx(tl.similarity_of([b[k] for k in keys]) - tl.similarity_of([a[k] for k in keys]))
    assert test.ci[0] < test.diff < test.ci[1]
    # in the dimension summary the sub-task is resampled too (it used to be held fixed: a
    # zero-width interval and p = 1 whatever the data)
    cells = [scorecard.aggregate(dict(spec, metric="m", scorer="s", scorer_version=1), r).value
             for r in (ref_rows, var_rows)]
    part = compare._Part(spec, ref_rows, var_rows, tuple(cells))
    value, dim_test, note = compare.dimension_delta([part])
    assert value == pytest.approx(test.diff) and note == ""
    assert dim_test.ci[1] - dim_test.ci[0] > 0.05
    assert dim_test.p == pytest.approx(test.p)  # one sub-task: the same exact test


def test_pair_robustness_score_is_tested_by_pair_and_rescaled_in_the_summary():
    from trust_tui.engine.trustllm import metrics as tl

    rng = random.Random(9)
    ref_pairs, var_pairs = [], []
    for n in range(10):
        task = "qqp" if n < 5 else "sst2"
        clean = float(rng.random() < 0.8)
        ref_pairs.append((f"p{n}", task, [("clean", clean, ""), ("noisy", float(rng.random() < 0.7), "")]))
        var_pairs.append((f"p{n}", task, [("clean", clean, ""), ("noisy", float(rng.random() < 0.3), "")]))
    ref_rows, var_rows = _pair_rows(ref_pairs), _pair_rows(var_pairs)
    spec = {"id": "robustness/advglue", "title": "AdvGLUE", "aggregate": "pair_robustness_score",
            "direction": "higher", "aggregate_options": {}, "summary": True}
    test, _ = compare.subtask_test(spec, ref_rows, var_rows)
    a, _ = tl.robustness_units(ref_rows)
    b, _ = tl.robustness_units(var_rows)
    keys = sorted(a)

    def difference(x, y):
        return tl.robustness_score(y) - tl.robustness_score(x)

    assert (test.method, test.unit, test.n) == ("paired-permutation", "pairs", 10)
    assert test.p == pytest.approx(_scipy_paired(difference, [a[k] for k in keys], [b[k] for k in keys]))
    cells = [scorecard.aggregate(dict(spec, metric="m", scorer="s", scorer_version=1), r).value
             for r in (ref_rows, var_rows)]
    assert test.diff == pytest.approx(cells[1] - cells[0])
    value, dim_test, _ = compare.dimension_delta([compare._Part(spec, ref_rows, var_rows, tuple(cells))])
    assert value == pytest.approx(test.diff / 2)  # the summary holds (RS + 1) / 2
    assert dim_test.p == pytest.approx(test.p)
    assert dim_test.ci == (pytest.approx(test.ci[0] / 2), pytest.approx(test.ci[1] / 2))


def test_the_delta_shown_is_the_delta_tested_when_answers_are_unreadable_in_one_run(store, tmp_path):
    subtasks = '''
[dimensions.truthfulness.subtasks.mc]
items = "items/mc.jsonl"
scorer = "choice"
metric = "accuracy"
aggregate = "proportion"
aggregate_options = { unparseable = "exclude" }
direction = "higher"
'''
    bundle = str(write_bundle(tmp_path, "excl", subtasks=subtasks))

    def script_b(request):
        if "Question 1?" in request.prompt:
            return "Hmm."  # unreadable in B only: left out of B's rate, not of A's
        return "Answer: B" if "Question 3?" in request.prompt else "Answer: A"

    a = make_run(store, bundle, script_a, "model-a")
    b = make_run(store, bundle, script_b, "model-b")
    result = compare.build(store, [a, b])
    mc = row(result, "truthfulness/mc")
    # cells: A 3/6 = 50%, B 4/5 = 80% (m1 excluded); on the 5 items readable in both: 60% → 80%
    assert (mc.cells[0].value, mc.cells[1].value) == (0.5, pytest.approx(0.8))
    delta = mc.deltas[1]
    assert delta.value == pytest.approx(0.2) == pytest.approx(delta.test.diff)  # not 0.3
    assert delta.test.n == 5 and delta.test.dropped == 1
    assert "on the 5 items readable in both runs (1 unreadable in one run left out)" in delta.note
    truth = row(result, "truthfulness").deltas[1]
    assert truth.value == pytest.approx(0.2) and "1 unit (items or pairs) unreadable in one run" in truth.note
    text = compare_md.render(compare_md.build(result))
    assert "+20.0 pt ▲ *" in text and "1 unreadable in one run left out" in text
