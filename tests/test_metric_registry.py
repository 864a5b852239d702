"""The metric registry (engine/score/metrics.py): a metric registered in one place is computed,
tested, judged per item and written the same way by the CLI, the app and both exports."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from tests.conftest import SUBTASK_FLIP, SUBTASK_MC, write_bundle
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.compare import comparison as compare
from trust_tui.engine.run import api
from trust_tui.engine.run.loop import RunSpec
from trust_tui.engine.score import core_metrics, metrics, scorecard, stats
from trust_tui.errors import BundleError

REFUSAL = "I'm sorry, but I can't help with that."

# --------------------------------------------------------------------------- the test's own metric
# Everything the product knows about this metric is in the next few lines: if any reader wrote
# values its own way, the per-mille sign would not appear there.

PER_MILLE = metrics.Scale(
    "per-mille", lambda v: f"{1000 * v:.0f}‰", lambda lo, hi: f"[{1000 * lo:.0f}‰, {1000 * hi:.0f}‰]",
    lambda d: f"{1000 * d:+.0f}‰")


def _outcomes(rows, options):
    return {r["uid"]: None if r["score_value"] is None else float(r["score_value"]) for r in rows}


def _measure(rows, options):
    values = [v for v in _outcomes(rows, options).values() if v is not None]
    measure = metrics.Measure(n=len(values))
    if values:
        measure.value = sum(values) / len(values)
        measure.ci = stats.wilson(sum(values), len(values))
    return measure


PER_MILLE_METRIC = metrics.Metric(
    "share_per_mille", "TEST-ONLY share of readable items scored 1, written per mille", PER_MILLE, _measure,
    units=lambda rows, options: metrics.Units(_outcomes(rows, options), core_metrics.mean_or_none,
                                              mean_of_values=True, verdicts=True, mcnemar=True),
    verdicts=core_metrics.item_verdicts)


@pytest.fixture
def per_mille():
    metrics.register(PER_MILLE_METRIC)
    yield PER_MILLE_METRIC
    metrics.unregister(PER_MILLE_METRIC.name)


SUBTASKS = '''
[dimensions.safety.subtasks.refuse]
title = "Refusals per mille"
items = "items/refuse.jsonl"
scorer = "refusal"
metric = "refusals (per mille)"
aggregate = "share_per_mille"
direction = "higher"
''' + SUBTASK_MC + SUBTASK_FLIP


def script_a(request):
    if "harmful" in request.prompt:
        return REFUSAL
    return "Answer: A" if "Question" in request.prompt else "Yes."


def script_b(request):
    prompt = request.prompt
    if "harmful" in prompt:  # refuses 0 and 1 only: 1000‰ -> 333‰
        return REFUSAL if ("number 0" in prompt or "number 1" in prompt) else "Sure, here it is."
    if "Question 0?" in prompt:
        return "Answer: B"
    if "Question" in prompt:
        return "Answer: A"
    return "No." if "I think not. Is 0 even" in prompt else "Yes."


@pytest.fixture
def runs(store, tmp_path, per_mille):
    bundle = str(write_bundle(tmp_path, subtasks=SUBTASKS))
    made = []
    for script, model in ((script_a, "model-a"), (script_b, "model-b")):
        made.append(api.run(spec=RunSpec(bundle=bundle, profile="full"), store=store,
                            backend=FakeBackend(script, model_id=model)).run_id)
    return made


# --------------------------------------------------------------------------- one registration, every reader


def test_a_registered_metric_reaches_the_scorecard_cli_and_both_exports(store, runs):
    from trust_tui.cli import cli
    from trust_tui.export import markdown, report

    card = scorecard.build(store, runs[0])
    sub = card.subtask("safety/refuse")
    assert (sub.value, sub.n) == (1.0, 6) and sub.definition == PER_MILLE_METRIC.definition
    shown = PER_MILLE_METRIC.fmt(sub.value)  # "1000‰"
    ci = PER_MILLE_METRIC.fmt_ci(sub.ci)
    assert shown == "1000‰" and ci.endswith("‰]")

    runner = CliRunner()
    cli_out = runner.invoke(cli, ["report", str(runs[0])])
    assert cli_out.exit_code == 0, cli_out.output
    line = next(li for li in cli_out.output.splitlines() if "Refusals per mille" in li)
    assert shown in line and ci in line
    overall = metrics.SUMMARY.fmt(card.overall)
    assert "Overall" in cli_out.output and overall in next(li for li in cli_out.output.splitlines() if "Overall" in li)

    data = report.build(store, runs[0])
    exported = next(s for d in data["dimensions"] for s in d["subtasks"] if s["id"] == "safety/refuse")
    assert exported["aggregate"] == "share_per_mille" and exported["scale"] == "per-mille"
    assert exported["value"] == 1.0 and exported["definition"] == PER_MILLE_METRIC.definition
    assert data["overall"]["value"] == pytest.approx(card.overall)
    json_out = runner.invoke(cli, ["export", str(runs[0]), "--format", "json"])
    assert json.loads(json_out.output)["overall"] == data["overall"]

    md = markdown.render(data)
    assert f"| {shown} {ci} |" in md
    assert PER_MILLE_METRIC.definition in md
    assert f"| **Overall** | **{overall}** | |" in md


def test_a_registered_metric_reaches_the_comparison_cli_and_export(store, runs):
    from trust_tui.cli import cli

    runner = CliRunner()
    made = runner.invoke(cli, ["compare", str(runs[0]), str(runs[1]), "--reference", "first",
                               "--agreement-items", "0", "--no-speed", "--quiet"])
    assert made.exit_code == 0, made.output
    result = compare.load(store, "latest")
    row = next(r for r in result.subtasks if r.id == "safety/refuse")
    delta = row.deltas[1]
    assert delta.value == pytest.approx(2 / 6 - 1) and delta.better is False
    # the metric's units read as pass / fail: an exact McNemar test, and four flips
    assert (delta.test.method, delta.test.pass_to_fail, delta.test.fail_to_pass) == ("mcnemar-exact", 4, 0)
    assert sum(1 for f in result.flips if f.subtask == "safety/refuse") == 4
    text = PER_MILLE_METRIC.fmt_delta(delta.value)
    assert text == "-667‰"
    line = next(li for li in made.output.splitlines() if "Refusals per mille" in li)
    assert "1000‰" in line and "333‰" in line and text in line
    md = runner.invoke(cli, ["export", "--compare", "latest", "--format", "md"])
    md_line = next(li for li in md.output.splitlines() if li.startswith("| Refusals per mille"))
    assert "1000‰ [" in md_line and f"{text} ▼" in md_line
    js = json.loads(runner.invoke(cli, ["export", "--compare", "latest", "--format", "json"]).output)
    entry = next(s for s in js["subtasks"] if s["id"] == "safety/refuse")
    assert entry["scale"] == "per-mille" and entry["variants"][1]["delta"] == pytest.approx(2 / 6 - 1)


def test_a_registered_metric_reaches_the_app_scorecard_and_compare_screens(store, runs):
    from textual.app import App
    from textual.widgets import DataTable

    from trust_tui.tui.app import create_app
    from trust_tui.tui.screens.compare import CompareScreen
    from trust_tui.tui.screens.scorecard import ScorecardScreen

    made = compare.compare(store, runs, reference="first", agreement_items=0, speed=False)
    store_path = store.path
    card = scorecard.build(store, runs[0])
    sub = card.subtask("safety/refuse")
    app = create_app(store_path=store_path, discover=lambda: [])

    def text_of(screen) -> str:
        strips = screen.app.screen._compositor.render_strips()
        return "\n".join("".join(seg.text for seg in strip).rstrip() for strip in strips)

    async def scorecard_screen():
        async with app.run_test(size=(160, 48)) as pilot:
            app.open_screen("scorecard", run_id=runs[0])
            await pilot.pause(0.2)
            assert isinstance(app.screen, ScorecardScreen)
            table = app.screen.query_one("#scorecard-table", DataTable)
            cells = [str(c) for c in table.get_row("sub:safety/refuse")]
            assert PER_MILLE_METRIC.fmt(sub.value) in cells and PER_MILLE_METRIC.fmt_ci(sub.ci) in cells
            table.move_cursor(row=table.get_row_index("sub:safety/refuse"))
            await pilot.pause(0.1)
            assert "TEST-ONLY share of readable items" in text_of(app.screen)

    from trust_tui.tui.service import EngineService

    class CompareApp(App):
        def __init__(self) -> None:
            super().__init__()
            self.config = SimpleNamespace(store_path=store_path, bundle="trust-core", profile="quick",
                                          backend=object())
            self.service = EngineService(self, self.config)

        def on_mount(self) -> None:
            self.push_screen(CompareScreen(compare_id=made.id))

    compare_app = CompareApp()

    async def compare_screen():
        async with compare_app.run_test(size=(160, 48)) as pilot:
            for _ in range(100):
                if getattr(compare_app.screen, "comparison", None) is not None:
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.1)
            table = compare_app.screen.query_one("#compare-table", DataTable)
            cells = [str(c) for c in table.get_row("subtask:safety/refuse")]
            assert cells[1:4] == ["1000‰", "333‰", "-667‰"]

    import asyncio

    asyncio.run(scorecard_screen())
    asyncio.run(compare_screen())


def test_the_cli_the_app_and_the_exports_write_every_delta_alike(store, runs):
    """One comparison, every row: the CLI table, the app's table and the Markdown export show
    the same value and difference text, the metric's own."""
    from trust_tui.cli_compare import _print_comparison
    from trust_tui.export import compare_md
    from trust_tui.render import console
    from trust_tui.tui.screens.compare import fmt_delta, fmt_value

    result = compare.compare(store, runs, reference="first", agreement_items=0, speed=False)
    out = console()
    with out.capture() as captured:
        _print_comparison(out, result)
    cli_lines = captured.get().splitlines()
    md_lines = compare_md.render(compare_md.build(result)).splitlines()
    checked = 0
    for row in result.dimensions + result.subtasks:
        metric = metrics.for_display(row.aggregate)
        value, delta = metric.fmt(row.cells[1].value), metric.fmt_delta(row.deltas[1].value)
        assert (fmt_value(row.cells[1].value, row.aggregate), fmt_delta(row.deltas[1].value, row.aggregate)) \
            == (value, delta)
        cli = next(li for li in cli_lines if li.strip("│┃ ").startswith(row.title))
        md = next(li for li in md_lines if li.startswith(f"| {row.title}"))
        for line in (cli, md):
            assert value in line and delta in line, (row.id, line)
        checked += 1
    assert checked == len(result.subtasks) + len(result.dimensions) >= 5
    # rates in points, others in their own decimals: the rule the three used to disagree on
    assert metrics.fmt_delta(0.042, "summary") == "+4.2 pt"
    assert metrics.fmt_delta(-0.05, "pair_flip") == "-5.0 pt"
    assert metrics.fmt_delta(0.1234, "pearson") == "+0.12" and metrics.fmt(0.41, "pearson") == "r=+0.41"
    assert metrics.fmt_delta(0.05, "pair_robustness_score") == "+0.050"
    assert metrics.fmt(0.363, "pair_robustness_score") == "0.363"
    assert metrics.fmt_delta(0.1234, "chi2") == "+0.123" and metrics.fmt(0.0004, "chi2") == "p<0.001"


# --------------------------------------------------------------------------- the registry itself


def test_bundles_ask_the_registry(tmp_path, per_mille):
    from trust_tui.engine import bundles

    assert "share_per_mille" in bundles.AGGREGATES and "summary" not in bundles.AGGREGATES
    bad = write_bundle(tmp_path / "a", subtasks=SUBTASKS.replace('"share_per_mille"', '"no_such_metric"'))
    with pytest.raises(BundleError, match=r"unknown 'no_such_metric' \(known: .*share_per_mille"):
        bundles.load(bad)
    wrong = write_bundle(tmp_path / "b", subtasks=SUBTASKS.replace(
        'aggregate = "proportion"\ndirection = "higher"', 'aggregate = "pearson"\ndirection = "lower"'))
    with pytest.raises(BundleError, match="always higher-is-better"):
        bundles.load(wrong)


def test_registering_a_name_twice_is_refused(per_mille):
    other = metrics.Metric("share_per_mille", "another", metrics.DECIMAL, _measure)
    with pytest.raises(ValueError, match="registered twice"):
        metrics.register(other)


def _random_rows(seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(36):
        pair, variant = f"p{i // 3}", ("clean", "base", "typo")[i % 3]
        value = None if i % 11 == 0 else rng.choice([0.0, 1.0, 1.0, 0.5])
        rows.append({"uid": f"x/y:{i}", "subtask": "x/y", "status": "done", "scored": True,
                     "score_value": value, "score_label": rng.choice(["A", "B", "refused", "no-email"]),
                     "answer": rng.choice(["yes it is", "no", "maybe so"]),
                     "item": json.dumps({"gold": rng.choice(["A", "B", 1, 3]), "pair": pair, "variant": variant,
                                         "tags": [f"task:{i % 2}", f"cell:{i % 3}"],
                                         "group": {"sex": "fm"[i % 2]}})})
    return rows


@pytest.mark.parametrize("name", [n for n in ("proportion", "mean", "pair_consistency", "pair_flip",
                                              "pair_robustness", "pearson", "chi2", "macro_proportion",
                                              "macro_f1", "pair_robustness_score", "pair_similarity",
                                              "leakage_rates", "mean_nonrefused")])
def test_every_metric_value_equals_its_measure_and_its_units(name):
    """The three ways a metric's value is reached (the scorecard's measure, the fast value that
    resampling uses, the statistic of its paired units) agree."""
    metric = metrics.get(name)
    assert name in metrics.names()
    for seed in range(3):
        rows = _random_rows(seed)
        measured = metric.measure(rows, {}).value
        assert metric.value_of(rows) == pytest.approx(measured, nan_ok=True), seed
        if metric.units is not None:
            units = metric.units(rows, {})
            readable = [u for u in units.outcomes.values() if u is not None]
            assert units.statistic(readable) == pytest.approx(measured, nan_ok=True), seed


def test_orientation_and_verdicts_follow_the_metric():
    proportion, pearson, rs = metrics.get("proportion"), metrics.get("pearson"), metrics.get("pair_robustness_score")
    assert proportion.oriented(0.2, "lower") == pytest.approx(0.8) and proportion.better(-0.1, "lower")
    assert pearson.oriented(-0.3, "higher") == 0.0 and pearson.better(0.1, "lower")  # its own direction
    assert rs.oriented(0.2, "higher") == pytest.approx(0.6)
    assert metrics.get("chi2").better(0.2, "higher") is True
    assert proportion.passes(1.0, "higher") and not proportion.passes(1.0, "lower")
    assert metrics.get("pair_robustness").passes(1.0, "lower")  # a robust pair passes, whatever is written


@pytest.mark.parametrize("first", ["trust_tui.engine.trustllm.metrics", "trust_tui.engine.score.scorecard",
                                   "trust_tui.engine.score.metrics", "trust_tui.engine.compare.stats"])
def test_the_registries_are_complete_whatever_is_imported_first(first):
    code = (f"import importlib; importlib.import_module({first!r})\n"
            "from trust_tui.engine.score import metrics\n"
            "from trust_tui.engine.scorers import base\n"
            "print(len(metrics.names()), 'trustllm_label' in base.names(), 'refusal' in base.names())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["13", "True", "True"]


def test_the_overall_score_is_the_mean_of_dimension_summaries():
    card = SimpleNamespace(dimensions=[SimpleNamespace(value=0.5), SimpleNamespace(value=None),
                                       SimpleNamespace(value=1.0)])
    assert scorecard.overall(card) == 0.75
    assert scorecard.overall(SimpleNamespace(dimensions=[])) is None
