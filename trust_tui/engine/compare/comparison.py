"""Paired comparison of runs: the same bundle on two or more variants of a model, item by item.

Each variant is compared with a reference on the units its metric is made of: items, or pairs
for pair metrics, readable in both runs (the difference shown is the difference tested; the
comparison says when units were left out). Pass/fail outcomes get an exact McNemar test on the
discordant units; every other metric (a mean of values, a correlation, a macro average, a pair
statistic) a sign-flip permutation test of its difference, swapping each unit's two outcomes
(exact when few units changed, Monte Carlo otherwise); a bootstrap only gives the intervals. A
metric that is itself a p-value (chi-square) gets no paired test, and the comparison says so; so
does a sub-task too small for any outcome to reach p < 0.05. Sub-task p-values are Holm-corrected
per variant; dimension summaries get a sign-flip permutation test on the same units (and a paired
bootstrap interval), Holm-corrected separately.

Everything is computed from the store. A comparison record (table ``comparisons``) names its runs
and keeps only what the store cannot recompute: what was measured by running the models
(next-token agreement and speed, ``agreement.py``); every score, delta and p-value is recomputed
from the runs' stored answers and scores when it is shown.

The statistics (per-unit values, the paired test of a sub-task, dimension summaries) live in
``stats.py`` (each metric's units and orientation come from the metric registry), and turning
model paths into finished runs in ``runs.py``; this
module keeps the result types, comparability, cost, the assembled comparison and its records,
and ``compare`` itself. It re-exports the names other code and tests reach as ``compare.<name>``.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from trust_tui.engine.compare import agreement as agreement_mod
from trust_tui.engine.score import scorecard as sc
from trust_tui.engine.score import stats
from trust_tui.engine.compare.runs import resolve
from trust_tui.engine.compare.stats import (
    RESAMPLES,
    SEED,
    Test,
    _Part,
    _summary_difference,  # noqa: F401  (re-exported)
    dimension_delta,
    dimension_test,  # noqa: F401  (re-exported)
    paired_statistic_bootstrap,  # noqa: F401  (re-exported)
    paired_units,  # noqa: F401  (re-exported)
    subtask_test,
    unit_rows,
    unit_values,  # noqa: F401  (re-exported)
)
from trust_tui.engine.run.records import ComparisonRecord, RunRecord
from trust_tui.engine.run.store import Store, now
from trust_tui.engine.score import metrics
from trust_tui.engine.score.rows import item_of as _item
from trust_tui.errors import Cancelled, TrustError


class NotComparable(TrustError):
    """The runs measured different things (bundle, scorers, settings) or are unfinished."""

    exit_code = 7


# --------------------------------------------------------------------------- results


@dataclass
class Cell:
    value: float | None
    ci: tuple[float, float] | None
    n: int
    unit: str = "items"


@dataclass
class Delta:
    value: float | None  # variant − reference, on the metric's own scale
    better: bool | None  # the change goes the metric's good way
    test: Test
    note: str = ""  # e.g. a dimension difference taken over fewer sub-tasks than its summaries


@dataclass
class Row:
    """One sub-task or one dimension: each variant's value and its difference from the reference."""

    id: str
    kind: str  # "subtask" | "dimension"
    dimension: str
    title: str
    metric: str
    aggregate: str
    direction: str
    in_summary: bool
    cells: list[Cell | None]  # by variant; [0] is the reference
    deltas: list[Delta | None]  # by variant; [0] is None


@dataclass
class Member:
    uid: str
    variant: str  # the item's pair variant ("base", "persona" …), "" for single items
    prompt: str
    gold: Any
    answers: tuple[str | None, str | None]  # (reference, variant)
    labels: tuple[str | None, str | None]
    scores: tuple[float | None, float | None]


@dataclass
class Flip:
    variant: int  # index into Comparison.variants
    subtask: str
    subtask_title: str
    unit: str  # uid, or pair id for pair metrics
    direction: str  # "pass→fail" | "fail→pass"
    members: list[Member]

    @property
    def worse(self) -> bool:
        return self.direction == "pass→fail"


@dataclass
class Variant:
    run: dict
    model: dict
    label: str
    cost: dict


@dataclass
class Comparison:
    id: int | None
    created: float
    variants: list[Variant]  # [0] is the reference
    reference_rule: str
    forced: bool
    problems: list[str]
    dimensions: list[Row]
    subtasks: list[Row]
    flips: list[Flip]
    identical: list[dict | None]  # by variant; [0] None
    agreement: list[dict | None]  # next-token agreement by variant; [0] None
    only_in: dict[str, list[str]] = field(default_factory=dict)  # sub-tasks missing somewhere
    options: dict = field(default_factory=dict)

    @property
    def reference(self) -> Variant:
        return self.variants[0]


# --------------------------------------------------------------------------- comparability


def comparability_problems(runs: Sequence[RunRecord]) -> list[str]:
    """Why the runs did not measure the same thing (empty when they did)."""
    problems = []
    reference = runs[0]
    for run in runs:
        if run["status"] != "finished":
            problems.append(f"run {run['id']} is {run['status']} (run the same command again to finish it)")
    for run in runs[1:]:
        if run["comparability_hash"] == reference["comparability_hash"]:
            continue
        what = []
        if (run["bundle"], run["bundle_version"]) != (reference["bundle"], reference["bundle_version"]):
            what.append(f"bundle {run['bundle']} {run['bundle_version']} vs "
                        f"{reference['bundle']} {reference['bundle_version']}")
        elif run["bundle_hash"] != reference["bundle_hash"]:
            what.append("bundle contents")
        if run["profile"] != reference["profile"]:
            what.append(f"profile {run['profile']} vs {reference['profile']}")
        spec_a, spec_b = reference.spec_info, run.spec_info
        for key in ("dimensions", "subtasks", "generation", "per_subtask"):
            if spec_a.get(key) != spec_b.get(key):
                what.append(key)
        if run["template_source"] != reference["template_source"]:
            what.append(f"chat template {run['template_source']} vs {reference['template_source']}")
        snaps_a = reference.snapshot_by_id
        for snap in run.snapshots:
            other = snaps_a.get(snap["id"])
            if other and (other["scorer"], other["scorer_version"]) != (snap["scorer"], snap["scorer_version"]):
                what.append(f"scorer of {snap['id']}")
        problems.append(f"run {run['id']} is not comparable with run {reference['id']} "
                        f"({', '.join(dict.fromkeys(what)) or 'scoring settings'} differ)")
    return problems


# --------------------------------------------------------------------------- cost


def cost(store: Store, run: RunRecord, speed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """File size, load time, prompt and generation speed, run throughput, peak memory."""
    model = store.model(run["model_id"]) or {}
    context = run.context_info
    backend = run.backend_settings
    size = model.get("size")
    if size is None and run.get("model_path") and Path(run["model_path"]).exists():
        size = Path(run["model_path"]).stat().st_size
    speed = dict(speed or {})
    return {
        "file_size": size,
        "quantization": model.get("file_type"),
        "tensor_mix": model.get("tensor_mix"),
        "load_seconds": backend.get("load_seconds"),
        "prompt_tok_s": speed.get("prompt_tok_s"),
        "gen_tok_s": speed.get("gen_tok_s"),
        "speed_note": speed.get("note"),
        "run_tok_s": (run["tokens_generated"] / run["wall_seconds"]
                      if run.get("generated") and run.get("wall_seconds") else None),
        "peak_rss_mb": context.get("peak_rss_mb"),
        "parallel": backend.get("parallel"),
        "threads": backend.get("n_threads"),
        "n_gpu_layers": backend.get("n_gpu_layers"),
        "backend": backend.get("kind"),
    }


COST_DEFINITION = (
    "prompt and generation tok/s are measured when the comparison is made, the same way for every "
    "model (as llama-bench does: a 256-token prompt from the bundle in one batch, then 32 "
    "single-token decode steps, one sequence, the faster of two tries); run tok/s is the run's "
    "generated tokens over its wall time, with the sequences decoded together (parallel) and the "
    "answers that came from the cache, so compare it only between runs made the same way; load "
    "time and peak resident memory are those of the run's process")


# --------------------------------------------------------------------------- the comparison


def order_runs(store: Store, runs: list[dict], reference: str | int = "largest") -> tuple[list[dict], str]:
    """Runs with the reference first, and how it was chosen."""
    if isinstance(reference, str) and reference.isdigit():
        reference = int(reference)
    if isinstance(reference, int):
        if not 1 <= reference <= len(runs):
            raise TrustError(f"--reference {reference}: give a position from 1 to {len(runs)}")
        index, rule = reference - 1, f"position {reference}"
    elif reference == "first":
        index, rule = 0, "the first given"
    elif reference == "largest":
        sizes = [(store.model(r["model_id"]) or {}).get("size") or 0 for r in runs]
        index = max(range(len(runs)), key=lambda i: (sizes[i], -i))
        rule = "the largest model file" if len(set(sizes)) > 1 else "the first given (files of equal size)"
    else:
        raise TrustError(f"--reference {reference!r}: use 'largest', 'first' or a position (1, 2 …)")
    return [runs[index]] + runs[:index] + runs[index + 1:], rule


def _labels(runs: list[dict]) -> list[str]:
    names = [r["model_name"] or r["model_id"][:12] for r in runs]
    return [f"{name} (run {run['id']})" if names.count(name) > 1 else name for name, run in zip(names, runs)]


def _member(row_a: Mapping[str, Any] | None, row_b: Mapping[str, Any] | None) -> Member:
    row = row_a or row_b
    item = _item(row)
    prompt = ""
    for message in reversed(item.get("messages") or []):
        if message.get("role") == "user":
            prompt = message.get("content", "")
            break

    def get(r, key):
        return r.get(key) if r else None

    return Member(row["uid"], item.get("variant") or "", prompt, item.get("gold"),
                  (get(row_a, "answer"), get(row_b, "answer")),
                  (get(row_a, "score_label"), get(row_b, "score_label")),
                  (get(row_a, "score_value"), get(row_b, "score_value")))


def build(store: Store, run_ids: Sequence[int], reference_rule: str = "position 1",
          forced: bool = False, problems: Sequence[str] = (),
          measurements: Mapping[str, Any] | None = None, record_id: int | None = None,
          created: float | None = None, options: Mapping[str, Any] | None = None) -> Comparison:
    """The comparison of ``run_ids`` (the reference first), computed from the store."""
    runs = [store.run(i) for i in run_ids]
    rows = [list(store.item_rows(run["id"])) for run in runs]
    cards = [sc.from_rows(run, r) for run, r in zip(runs, rows)]
    by_sub = [_group(r) for r in rows]
    ref_specs = runs[0].snapshot_by_id
    all_ids = list(ref_specs)
    for run in runs[1:]:
        all_ids += [sub_id for sub_id in run.subtask_ids if sub_id not in all_ids]
    only_in: dict[str, list[str]] = {}
    subtask_rows: list[Row] = []
    flips: list[Flip] = []
    parts_by_dim: list[dict[str, list]] = [defaultdict(list) for _ in runs]
    results = [{s.id: s for s in card.subtasks} for card in cards]
    for sub_id in all_ids:
        present = [sub_id in res for res in results]
        if not all(present):
            only_in[sub_id] = [str(run["id"]) for run, here in zip(runs, present) if here]
            continue
        spec = ref_specs[sub_id]
        first = results[0][sub_id]
        cells = [Cell(res[sub_id].value, res[sub_id].ci, res[sub_id].n, res[sub_id].unit) for res in results]
        deltas: list[Delta | None] = [None]
        for v in range(1, len(runs)):
            test, flipped = subtask_test(spec, by_sub[0][sub_id], by_sub[v][sub_id])
            value, note = None, ""
            if test.dropped and test.diff is not None:
                # Units readable in one run only: show the difference the test is about, on the
                # units readable in both, rather than the difference of the two cells.
                value = test.diff
                unit = test.unit[:-1] if test.n == 1 else test.unit
                note = (f"Δ and test on the {test.n} {unit} readable in both runs "
                        f"({test.dropped} unreadable in one run left out)")
            elif cells[v].value is not None and cells[0].value is not None:
                value = cells[v].value - cells[0].value
            deltas.append(Delta(value, _better(spec, value), test, note))
            units_a = unit_rows(spec, by_sub[0][sub_id])
            units_b = unit_rows(spec, by_sub[v][sub_id])
            for unit, direction in flipped:
                members_b = {r["uid"]: r for r in units_b.get(unit, [])}
                members = [_member(r, members_b.get(r["uid"])) for r in units_a.get(unit, [])]
                flips.append(Flip(v, sub_id, first.title, unit, direction, members))
            if spec.get("summary", True):
                parts_by_dim[v][first.dimension].append(_Part(
                    spec, by_sub[0][sub_id], by_sub[v][sub_id], (cells[0].value, cells[v].value)))
        subtask_rows.append(Row(sub_id, "subtask", first.dimension, first.title, first.metric,
                                first.aggregate, first.direction, first.summary, cells, deltas))
    dimension_rows = []
    dims = [{d.id: d for d in card.dimensions} for card in cards]
    for dim in cards[0].dimensions:
        if not all(dim.id in d for d in dims):
            continue
        cells = [Cell(d[dim.id].value, d[dim.id].ci, sum(1 for s in d[dim.id].subtasks if s.summary),
                      "sub-tasks") for d in dims]
        deltas = [None]
        for v in range(1, len(runs)):
            # Δ and test on the same thing: the sub-tasks scored in both runs (a sub-task missing on
            # one side would move one summary and not the other), on their units readable in both.
            value, test, note = dimension_delta(parts_by_dim[v][dim.id])
            deltas.append(Delta(value, metrics.SUMMARY.better(value, "higher"), test, note))
        dimension_rows.append(Row(dim.id, "dimension", dim.id, dim.title, "summary", metrics.SUMMARY.name,
                                  "higher", True, cells, deltas))
    for v in range(1, len(runs)):
        _holm([r.deltas[v].test for r in subtask_rows])
        _holm([r.deltas[v].test for r in dimension_rows])
    measurements = measurements or {}
    agreement, speed = measurements.get("agreement") or {}, measurements.get("speed") or {}
    identical: list[dict | None] = [None]
    measured: list[dict | None] = [None]
    for v in range(1, len(runs)):
        identical.append(agreement_mod.identical_answers(rows[0], rows[v]))
        measured.append(agreement.get(str(runs[v]["id"])))
    variants = [Variant(run, store.model(run["model_id"]) or {}, label,
                        cost(store, run, speed.get(str(run["id"]))))
                for run, label in zip(runs, _labels(runs))]
    flips.sort(key=lambda f: (f.variant, not f.worse, all_ids.index(f.subtask), f.unit))
    return Comparison(record_id, created or now(), variants, reference_rule, forced, list(problems),
                      dimension_rows, subtask_rows, flips, identical, measured, only_in,
                      dict(options or {}))


def _group(rows: Iterable[Mapping[str, Any]]) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for row in rows:
        out[row["subtask"]].append(row)
    return out


def _better(spec: Mapping[str, Any], delta: float | None) -> bool | None:
    return metrics.get(spec["aggregate"]).better(delta, spec["direction"])


def _holm(tests: list[Test]) -> None:
    pvalues = [t.p if t.p is not None else math.nan for t in tests]
    for test, adjusted in zip(tests, stats.holm(pvalues)):
        test.p_holm = None if math.isnan(adjusted) else adjusted


# --------------------------------------------------------------------------- records


def save(store: Store, run_ids: Sequence[int], reference_rule: str, forced: bool,
         problems: Sequence[str], options: Mapping[str, Any], measurements: Mapping[str, Any]) -> int:
    return store.save_comparison(list(run_ids), forced, {"problems": list(problems), "rule": reference_rule},
                                 options, measurements)


def record(store: Store, ref: int | str) -> ComparisonRecord:
    return store.comparison(ref)


def records(store: Store, limit: int = 50) -> list[ComparisonRecord]:
    return store.comparisons(limit)


def load(store: Store, ref: int | str) -> Comparison:
    """A stored comparison, recomputed from its runs' stored answers and scores."""
    row = record(store, ref)
    comparability = row.comparability_info
    return build(store, row.run_id_list, comparability.get("rule", "position 1"),
                 bool(row.forced), comparability.get("problems", []),
                 row.measurements_info, row.id, row.created, row.options_info)


def compare(store: Store, refs: Sequence[str | int], spec=None, options=None,
            reference: str | int = "largest", force: bool = False,
            agreement_items: int = agreement_mod.DEFAULT_ITEMS,
            agreement_tokens: int = agreement_mod.DEFAULT_TOKENS, speed: bool = True,
            listener=None, on_stage: Callable[[str], None] | None = None,
            agreement_progress: Callable[[int, int], None] | None = None,
            cancel: threading.Event | None = None,
            backend_factory: Callable[[Path], Any] | None = None, isolate: bool = True) -> Comparison:
    """Resolve (and if needed run) ``refs``, check they are comparable, measure next-token
    agreement and speed with the model files, store the comparison record and return it."""
    if len(refs) < 2:
        raise TrustError("compare needs at least two runs or models")
    stage = on_stage or (lambda text: None)
    ids, _ = resolve(store, refs, spec, options, listener, on_stage, cancel, backend_factory, isolate)
    runs, rule = order_runs(store, [store.run(i) for i in ids], reference)
    problems = comparability_problems(runs)
    if problems and not force:
        raise NotComparable("; ".join(problems) + "; pass --force to compare anyway")
    threads = getattr(options, "threads", None)
    gpu_layers = getattr(options, "n_gpu_layers", None)
    measurements: dict[str, dict[str, Any]] = {"agreement": {}, "speed": {}}
    if agreement_items > 0:
        for run in runs[1:]:
            stage(f"next-token agreement of {run['model_name']}")
            measurements["agreement"][str(run["id"])] = agreement_mod.measure_runs(
                store, runs[0], run, agreement_items, agreement_tokens, threads, gpu_layers,
                agreement_progress, cancel)
    if speed:
        prompts = [r["rendered_prompt"] for r in store.item_rows(runs[0]["id"]) if r.get("rendered_prompt")]
        by_model: dict[str, dict] = {}
        for run in runs:
            if not run.get("model_path"):
                continue
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while measuring speed")
            if run["model_id"] not in by_model:
                stage(f"speed of {run['model_name']}")
                by_model[run["model_id"]] = agreement_mod.measure_speed(
                    run["model_path"], prompts[:64], n_threads=threads, n_gpu_layers=gpu_layers)
            measurements["speed"][str(run["id"])] = by_model[run["model_id"]]
    options_record = {"agreement_items": agreement_items, "agreement_tokens": agreement_tokens,
                      "speed": speed, "resamples": RESAMPLES, "seed": SEED}
    record_id = save(store, [r["id"] for r in runs], rule, bool(problems), problems,
                     options_record, measurements)
    return load(store, record_id)
