"""Paired comparison of runs: the same bundle on two or more variants of a model, item by item.

Each variant is compared with a reference on the units its metric is made of: items, or pairs
for pair metrics. Pass/fail outcomes get an exact McNemar test on the discordant units; other
per-unit values a paired bootstrap of the mean difference; metrics that are not means of units
(a correlation, a macro average) a paired bootstrap over items of the metric difference itself;
a metric that is itself a p-value (chi-square) no paired test, and the comparison says so. Sub-task
p-values are Holm-corrected per variant; dimension summaries get a sign-flip permutation test on
the same units (and a paired bootstrap interval), Holm-corrected separately.

Everything is computed from the store. A comparison record (table ``comparisons``) names its runs
and keeps only what the store cannot recompute: what was measured by running the models
(next-token agreement and speed, ``agreement.py``); every score, delta and p-value is recomputed
from the runs' stored answers and scores when it is shown.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from trust_tui.engine import agreement as agreement_mod
from trust_tui.engine import scorecard as sc
from trust_tui.engine import stats
from trust_tui.engine.store import Store, canonical_json, now
from trust_tui.errors import Cancelled, RunNotFound, TrustError

RESAMPLES = 2000
SEED = 0

# Aggregates that are the mean of one value per unit (item or pair).
UNIT_AGGREGATES = frozenset({"proportion", "mean", "pair_flip", "pair_consistency", "pair_robustness"})
NO_PAIRED_TEST = {
    "chi2": "the metric is itself the p-value of a test (answer × group), and a difference of "
            "p-values is not an effect size; compare the two p-values",
    "pair_robustness_score": "no paired test is implemented for this aggregate; compare the intervals",
    "pair_similarity": "no paired test is implemented for this aggregate; compare the intervals",
}


class NotComparable(TrustError):
    """The runs measured different things (bundle, scorers, settings) or are unfinished."""

    exit_code = 7


# --------------------------------------------------------------------------- results


@dataclass
class Test:
    method: str  # "mcnemar-exact" | "paired-bootstrap" | "none"
    p: float | None = None
    p_holm: float | None = None
    n: int = 0  # paired units
    unit: str = "items"
    pass_to_fail: int | None = None  # discordant units (McNemar), oriented: pass = good
    fail_to_pass: int | None = None
    ci: tuple[float, float] | None = None  # 95% interval of the paired difference
    note: str = ""


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


# --------------------------------------------------------------------------- per-unit values


def _item(row: Mapping[str, Any]) -> dict:
    return json.loads(row["item"]) if row.get("item") else {}


def _scored(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["status"] == "done" and r.get("scored")]


def unit_values(spec: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    """One value per unit, on the metric's own scale, such that the metric is their mean over
    the units whose value is not None (exactly as scorecard.py computes it)."""
    aggregate = spec["aggregate"]
    exclude = (spec.get("aggregate_options") or {}).get("unparseable") == "exclude"
    scored = _scored(rows)
    if aggregate in ("proportion", "mean"):
        out = {}
        for row in scored:
            value = row["score_value"]
            if value is None:
                out[row["uid"]] = None if (exclude or aggregate == "mean") else 0.0
            else:
                out[row["uid"]] = float(value)
        return out
    pairs: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for row in scored:
        item = _item(row)
        if item.get("pair"):
            pairs[item["pair"]][item.get("variant") or ""] = row
    out = {}
    for pair, members in pairs.items():
        if len(members) < 2:
            continue
        unreadable = any(m["score_value"] is None for m in members.values())
        if aggregate == "pair_flip":
            base = members.get("base")
            if base is None:
                continue
            others = [m for v, m in members.items() if v != "base"]
            out[pair] = None if unreadable else float(
                any(m["score_label"] != base["score_label"] for m in others))
        elif aggregate == "pair_consistency":
            if unreadable:
                out[pair] = None if exclude else 0.0
            else:
                out[pair] = float(len({m["score_label"] for m in members.values()}) == 1)
        elif aggregate == "pair_robustness":
            if "clean" not in members:
                continue
            out[pair] = float(all((m["score_value"] or 0) == 1 for m in members.values()))
    return out


def unit_rows(spec: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The rows behind each unit (one row, or a pair's members base first)."""
    out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    pair_metric = spec["aggregate"].startswith("pair_")
    for row in rows:
        key = (_item(row).get("pair") or row["uid"]) if pair_metric else row["uid"]
        out[key].append(row)
    for members in out.values():
        members.sort(key=lambda r: (_item(r).get("variant") not in ("base", "clean"), r["uid"]))
    return out


# --------------------------------------------------------------------------- statistics on items


def _pearson_value(spec, rows) -> float | None:
    xs, ys = [], []
    for row in rows:
        gold = _item(row).get("gold")
        if row["score_value"] is None or not isinstance(gold, (int, float)):
            continue
        xs.append(float(row["score_value"]))
        ys.append(float(gold))
    if not xs:
        return None
    r = stats.pearson(xs, ys)
    return 0.0 if math.isnan(r) else r  # scorecard: a constant rating is "no correlation"


def _macro_proportion_value(spec, rows) -> float | None:
    options = spec.get("aggregate_options") or {}
    exclude = options.get("unparseable") == "exclude"
    groups: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        value = row["score_value"]
        if value is None and exclude:
            continue
        groups[sc._group_of(row, options.get("by", "gold"))].append(0.0 if value is None else float(value))
    if not groups:
        return None
    return sum(sum(v) / len(v) for v in groups.values()) / len(groups)


def _macro_f1_value(spec, rows) -> float | None:
    options = spec.get("aggregate_options") or {}
    exclude = options.get("unparseable") == "exclude"
    by = options.get("by")
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        if row["score_value"] is None and exclude:
            continue
        predicted = row["score_label"] if row["score_value"] is not None else "unparseable"
        groups[sc._group_of(row, by) if by else "all"].append(
            (str(_item(row).get("gold")), predicted or "unparseable"))
    if not groups:
        return None
    return sum(sc._macro_f1_of(v) for v in groups.values()) / len(groups)


def _leakage_value(spec, rows) -> float | None:
    by = (spec.get("aggregate_options") or {}).get("by", "cell")
    cells: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row["score_value"] is not None:
            counts = cells[sc._group_of(row, by)]
            counts[0] += 1
            counts[1] += row["score_label"] == "no-email"
    if not cells:
        return None
    return sum(k / n for n, k in cells.values()) / len(cells)


def _mean_nonrefused_value(spec, rows) -> float | None:
    values = [float(r["score_value"]) for r in rows
              if r["score_value"] is not None and r["score_label"] != "refused"]
    return sum(values) / len(values) if values else None


def _chi2_value(spec, rows) -> float | None:
    return sc.aggregate(spec, [dict(r, status="done", scored=True) for r in rows]).value


# Metrics recomputed on resampled items: (spec, scored rows) -> value.
ITEM_STATISTICS: dict[str, Callable[[Mapping[str, Any], list], float | None]] = {
    "pearson": _pearson_value,
    "macro_proportion": _macro_proportion_value,
    "macro_f1": _macro_f1_value,
    "leakage_rates": _leakage_value,
    "mean_nonrefused": _mean_nonrefused_value,
    "chi2": _chi2_value,  # for dimension summaries only (no sub-task test, see NO_PAIRED_TEST)
}


def _percentile_test(diffs: list[float]) -> tuple[tuple[float, float], float]:
    """95% percentile interval and two-sided bootstrap p-value of resampled differences."""
    diffs = sorted(d for d in diffs if not math.isnan(d))
    if not diffs:
        return (math.nan, math.nan), math.nan
    count = len(diffs)
    lo = diffs[int(0.025 * (count - 1))]
    hi = diffs[int(math.ceil(0.975 * (count - 1)))]
    if all(d == diffs[0] for d in diffs):
        return (lo, hi), (1.0 if diffs[0] == 0 else 1.0 / count)
    below = sum(1 for d in diffs if d <= 0) / count
    above = sum(1 for d in diffs if d >= 0) / count
    return (lo, hi), max(min(1.0, 2 * min(below, above)), 1.0 / count)


def paired_statistic_bootstrap(
    statistic: Callable[[list], float | None], ref: Sequence[Any], var: Sequence[Any],
    resamples: int = RESAMPLES, seed: int = SEED,
) -> tuple[float | None, tuple[float, float], float]:
    """Bootstrap over paired units (ref[i] and var[i] are the same item in the two runs) of
    statistic(var) − statistic(ref): (observed difference, 95% interval, p-value)."""
    n = len(ref)
    if n == 0 or n != len(var):
        return None, (math.nan, math.nan), math.nan
    a, b = statistic(list(ref)), statistic(list(var))
    if a is None or b is None:
        return None, (math.nan, math.nan), math.nan
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        x, y = statistic([ref[i] for i in picks]), statistic([var[i] for i in picks])
        diffs.append(math.nan if x is None or y is None else y - x)
    ci, p = _percentile_test(diffs)
    return b - a, ci, p


# --------------------------------------------------------------------------- one sub-task


def _orient(spec: Mapping[str, Any], value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    if spec["aggregate"] == "pearson":
        return max(0.0, value)
    return 1 - value if spec["direction"] == "lower" else value


def _is_binary(values: Iterable[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def _pass(spec: Mapping[str, Any], value: float) -> bool:
    """The verdict the app shows for a unit (oriented value ≥ 0.5)."""
    oriented = value if spec["direction"] == "higher" or spec["aggregate"] == "pair_robustness" else 1 - value
    return oriented >= 0.5


def subtask_test(spec: Mapping[str, Any], ref_rows: list, var_rows: list) -> tuple[Test, list[tuple[str, str]]]:
    """The paired test of one sub-task, and its flipped units as (unit, direction)."""
    aggregate = spec["aggregate"]
    if aggregate in UNIT_AGGREGATES:
        a, b = unit_values(spec, ref_rows), unit_values(spec, var_rows)
        keys = [k for k in a if k in b and a[k] is not None and b[k] is not None]
        unit = "pairs" if aggregate.startswith("pair_") else "items"
        flips = []
        for key in keys:
            before, after = _pass(spec, a[key]), _pass(spec, b[key])
            if before != after:
                flips.append((key, "pass→fail" if before else "fail→pass"))
        if not keys:
            return Test("none", n=0, unit=unit, note="no unit was readable in both runs"), flips
        xs, ys = [a[k] for k in keys], [b[k] for k in keys]
        _, ci, p_boot = stats.paired_bootstrap(xs, ys, resamples=RESAMPLES, seed=SEED)
        if aggregate != "mean" and _is_binary(xs + ys):
            worse = sum(1 for _, d in flips if d == "pass→fail")
            better = len(flips) - worse
            return Test("mcnemar-exact", stats.mcnemar_exact(worse, better), n=len(keys), unit=unit,
                        pass_to_fail=worse, fail_to_pass=better, ci=ci), flips
        return Test("paired-bootstrap", p_boot, n=len(keys), unit=unit, ci=ci,
                    note="bootstrap of the mean per-item difference"), flips
    if aggregate in NO_PAIRED_TEST:
        return Test("none", note=NO_PAIRED_TEST[aggregate]), []
    if aggregate in ITEM_STATISTICS:
        a = {r["uid"]: r for r in _scored(ref_rows)}
        b = {r["uid"]: r for r in _scored(var_rows)}
        keys = [k for k in a if k in b]
        fn = ITEM_STATISTICS[aggregate]
        _, ci, p = paired_statistic_bootstrap(lambda rows: fn(spec, rows),
                                              [a[k] for k in keys], [b[k] for k in keys])
        if math.isnan(p):
            return Test("none", n=len(keys), note="too few readable items for a paired test"), []
        return Test("paired-bootstrap", p, n=len(keys), ci=ci,
                    note="bootstrap over items of the difference of the metric itself"), []
    return Test("none", note=f"no paired test for aggregate {aggregate!r}"), []


# --------------------------------------------------------------------------- dimension summaries


class _Part:
    """One sub-task's share of a dimension summary, redrawn on paired units: resampled for the
    bootstrap interval, or with each unit's two outcomes swapped at random for the sign-flip
    permutation test. Values are oriented (higher is better), as in the summary."""

    def __init__(self, spec: Mapping[str, Any], ref_rows: list, var_rows: list,
                 observed: tuple[float | None, float | None]):
        self.spec = spec
        self.kind = "fixed"
        aggregate = spec["aggregate"]
        if aggregate in UNIT_AGGREGATES:
            a, b = unit_values(spec, ref_rows), unit_values(spec, var_rows)
            self.units = [(a[k], b[k]) for k in a if k in b and a[k] is not None and b[k] is not None]
            if self.units:
                self.kind = "units"
        elif aggregate in ITEM_STATISTICS:
            a = {r["uid"]: r for r in _scored(ref_rows)}
            b = {r["uid"]: r for r in _scored(var_rows)}
            self.items = [(a[k], b[k]) for k in a if k in b]
            self.statistic = ITEM_STATISTICS[aggregate]
            if self.items:
                self.kind = "items"
        self.fixed = (_orient(spec, observed[0]), _orient(spec, observed[1]))

    def _values(self, drawn: list[tuple]) -> tuple[float | None, float | None]:
        if self.kind == "units":
            return (_orient(self.spec, sum(x for x, _ in drawn) / len(drawn)),
                    _orient(self.spec, sum(y for _, y in drawn) / len(drawn)))
        return (_orient(self.spec, self.statistic(self.spec, [x for x, _ in drawn])),
                _orient(self.spec, self.statistic(self.spec, [y for _, y in drawn])))

    def observed(self) -> tuple[float | None, float | None]:
        if self.kind == "fixed":
            return self.fixed
        return self._values(self.units if self.kind == "units" else self.items)

    def boot(self, rng: random.Random) -> tuple[float | None, float | None]:
        if self.kind == "fixed":
            return self.fixed  # no resampling for this aggregate: it adds no variance
        pool = self.units if self.kind == "units" else self.items
        return self._values([pool[rng.randrange(len(pool))] for _ in pool])

    def swap(self, rng: random.Random) -> tuple[float | None, float | None]:
        if self.kind == "fixed":
            return self.fixed if rng.random() < 0.5 else self.fixed[::-1]
        pool = self.units if self.kind == "units" else self.items
        return self._values([(y, x) if rng.random() < 0.5 else (x, y) for x, y in pool])


def _summary_difference(pairs: Iterable[tuple[float | None, float | None]]) -> float | None:
    ref_values, var_values = [], []
    for x, y in pairs:
        if x is not None:
            ref_values.append(x)
        if y is not None:
            var_values.append(y)
    if not ref_values or not var_values:
        return None
    return sum(var_values) / len(var_values) - sum(ref_values) / len(ref_values)


def dimension_test(parts: list[_Part], observed: float | None, resamples: int = RESAMPLES,
                   seed: int = SEED) -> Test:
    """The paired test of a dimension summary (the mean of oriented sub-task values): a sign-flip
    permutation test (each unit's two outcomes swapped at random, within its sub-task) for the
    p-value, and a paired bootstrap (units resampled within each sub-task) for the interval.

    With one pass/fail sub-task the permutation p-value is the randomisation version of the exact
    McNemar test on the same units, so a dimension never looks surer than its only sub-task."""
    if observed is None or not parts:
        return Test("none", note="no summary in one of the runs")
    paired = _summary_difference(part.observed() for part in parts)
    if paired is None:
        return Test("none", note="nothing to resample")
    rng = random.Random(seed)
    boots = [_summary_difference(part.boot(rng) for part in parts) for _ in range(resamples)]
    ci, _ = _percentile_test([d for d in boots if d is not None])
    rng = random.Random(seed)
    extreme = 0
    for _ in range(resamples):
        flipped = _summary_difference(part.swap(rng) for part in parts)
        if flipped is not None and abs(flipped) >= abs(paired) - 1e-12:
            extreme += 1
    p = 1.0 if abs(paired) < 1e-12 else (extreme + 1) / (resamples + 1)
    return Test("paired-permutation", min(1.0, p), n=len(parts), unit="sub-tasks", ci=ci,
                note="sign-flip permutation test of the summary difference (units swapped between "
                     "the runs within each sub-task); interval by paired bootstrap")


# --------------------------------------------------------------------------- comparability


def comparability_problems(runs: Sequence[Mapping[str, Any]]) -> list[str]:
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
        spec_a, spec_b = json.loads(reference["spec"] or "{}"), json.loads(run["spec"] or "{}")
        for key in ("dimensions", "subtasks", "generation"):
            if spec_a.get(key) != spec_b.get(key):
                what.append(key)
        if run["template_source"] != reference["template_source"]:
            what.append(f"chat template {run['template_source']} vs {reference['template_source']}")
        snaps_a = {s["id"]: s for s in json.loads(reference["subtasks"])}
        for snap in json.loads(run["subtasks"]):
            other = snaps_a.get(snap["id"])
            if other and (other["scorer"], other["scorer_version"]) != (snap["scorer"], snap["scorer_version"]):
                what.append(f"scorer of {snap['id']}")
        problems.append(f"run {run['id']} is not comparable with run {reference['id']} "
                        f"({', '.join(dict.fromkeys(what)) or 'scoring settings'} differ)")
    return problems


# --------------------------------------------------------------------------- cost


def cost(store: Store, run: Mapping[str, Any], speed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """File size, load time, prompt and generation speed, run throughput, peak memory."""
    model = store.model(run["model_id"]) or {}
    context = json.loads(run.get("context") or "{}")
    backend = json.loads(run.get("backend") or "{}")
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
    ref_specs = {s["id"]: s for s in json.loads(runs[0]["subtasks"])}
    all_ids = list(ref_specs)
    for run in runs[1:]:
        all_ids += [s["id"] for s in json.loads(run["subtasks"]) if s["id"] not in all_ids]
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
            value = None
            if cells[v].value is not None and cells[0].value is not None:
                value = cells[v].value - cells[0].value
            deltas.append(Delta(value, _better(spec, value), test))
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
            # Only sub-tasks scored in both runs: a sub-task missing on one side (no readable
            # answer) would otherwise move one summary and not the other.
            parts = [part for part in parts_by_dim[v][dim.id] if None not in part.fixed]
            value = _summary_difference(part.fixed for part in parts)
            scored = [sum(1 for s in d[dim.id].subtasks if s.summary and s.oriented() is not None)
                      for d in (dims[0], dims[v])]
            note = ""
            if value is not None and scored != [len(parts), len(parts)]:
                missing = [part.spec["title"] for part in parts_by_dim[v][dim.id] if None in part.fixed]
                note = (f"Δ and test over the {len(parts)} sub-task{'' if len(parts) == 1 else 's'} "
                        "scored in both runs"
                        + (f" (not {', '.join(missing)})" if missing else ""))
            test = dimension_test(parts, value)
            deltas.append(Delta(value, None if not value else value > 0, test, note))
        dimension_rows.append(Row(dim.id, "dimension", dim.id, dim.title, "summary", "summary",
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
    if delta is None or delta == 0:
        return None
    if spec["aggregate"] == "chi2":
        return delta > 0  # a larger p-value: less evidence of unequal treatment
    return delta > 0 if spec["direction"] == "higher" else delta < 0


def _holm(tests: list[Test]) -> None:
    pvalues = [t.p if t.p is not None else math.nan for t in tests]
    for test, adjusted in zip(tests, stats.holm(pvalues)):
        test.p_holm = None if math.isnan(adjusted) else adjusted


# --------------------------------------------------------------------------- records


def save(store: Store, run_ids: Sequence[int], reference_rule: str, forced: bool,
         problems: Sequence[str], options: Mapping[str, Any], measurements: Mapping[str, Any]) -> int:
    with store.transaction():
        table = store.db["comparisons"]
        table.insert({
            "created": now(), "run_ids": canonical_json(list(run_ids)), "reference_run": run_ids[0],
            "forced": int(forced),
            "comparability": canonical_json({"problems": list(problems), "rule": reference_rule}),
            "options": canonical_json(dict(options)),
            "measurements": canonical_json(dict(measurements)),
        })
        return table.last_pk


def record(store: Store, ref: int | str) -> dict:
    if str(ref) == "latest":
        rows = list(store.db.query("select * from comparisons order by id desc limit 1"))
        if not rows:
            raise RunNotFound("no comparisons yet: make one with `trust-tui compare A B`")
        return rows[0]
    try:
        compare_id = int(ref)
    except (TypeError, ValueError):
        raise RunNotFound(f"comparison id must be a number or 'latest', got {ref!r}") from None
    rows = list(store.db.query("select * from comparisons where id = ?", [compare_id]))
    if not rows:
        raise RunNotFound(f"no comparison {compare_id} (see `trust-tui compare`)")
    return rows[0]


def records(store: Store, limit: int = 50) -> list[dict]:
    return list(store.db.query("select * from comparisons order by id desc limit ?", [limit]))


def load(store: Store, ref: int | str) -> Comparison:
    """A stored comparison, recomputed from its runs' stored answers and scores."""
    row = record(store, ref)
    comparability = json.loads(row["comparability"] or "{}")
    return build(store, json.loads(row["run_ids"]), comparability.get("rule", "position 1"),
                 bool(row["forced"]), comparability.get("problems", []),
                 json.loads(row["measurements"] or "{}"), row["id"], row["created"],
                 json.loads(row["options"] or "{}"))


# --------------------------------------------------------------------------- runs for models


def _reusable_run(store: Store, model_id: str, spec, bundle) -> dict | None:
    """The latest finished run of this model with this spec: nothing to generate or load."""
    wanted = {"dimensions": list(spec.dimensions), "subtasks": list(spec.subtasks),
              "generation": dict(spec.generation)}
    for run in store.runs(model_id, limit=200):
        if (run["status"] != "finished" or run["bundle"] != bundle.name
                or run["bundle_hash"] != bundle.content_hash or run["profile"] != spec.profile):
            continue
        saved = json.loads(run["spec"] or "{}")
        if {k: saved.get(k) for k in wanted} != wanted or json.loads(run["backend"] or "{}").get("kind") == "server":
            continue
        if any(r["status"] == "pending" for r in store.run_items(run["id"])):
            continue
        return run
    return None


def ensure_run(store: Store, model: str | Path, spec, options=None, listener=None, on_stage=None,
               cancel: threading.Event | None = None, backend=None, isolate: bool = True) -> tuple[int, bool]:
    """A finished run of ``spec`` on ``model``: (run id, True when an existing run was reused).

    Otherwise ``api.run`` runs it (answers come from the cache where possible). With
    ``isolate`` it runs in a child process, so the run's peak memory is that model's alone.
    """
    from trust_tui.engine import api, bundles, models

    stage = on_stage or (lambda text: None)
    if backend is None:
        stage("hashing " + (Path(str(model)).name if model else "the embedded model"))
        model_file = models.identify(model, store)
        found = _reusable_run(store, model_file.sha256, spec, bundles.load(spec.bundle))
        if found is not None:
            return found["id"], True
        model = model_file.path
    if backend is not None or not isolate:
        outcome = api.run(model, spec, options, store=store, listener=listener, cancel=cancel,
                          backend=backend, on_stage=on_stage)
        return outcome.run_id, False
    return run_in_child(model, spec, options, store.path, listener, on_stage, cancel), False


def _child_main(model: str, spec, options, store_path: str, events, stop) -> None:
    """The body of ``run_in_child``'s process: api.run, its events sent back through a queue."""
    from trust_tui.engine import api

    store = Store(store_path)
    try:
        outcome = api.run(model, spec, options, store=store,
                          listener=lambda event: events.put(("event", event)),
                          cancel=stop, on_stage=lambda text: events.put(("stage", text)))
        events.put(("done", outcome.run_id))
    except TrustError as exc:
        events.put(("error", (type(exc).__name__, str(exc))))
    except KeyboardInterrupt:
        events.put(("error", ("Cancelled", "cancelled: everything finished so far is stored")))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        events.put(("error", ("BackendError", f"the run of {Path(model).name} failed: "
                                              f"{type(exc).__name__}: {exc}")))
    finally:
        store.close()


def run_in_child(model: str | Path, spec, options, store_path: str | Path, listener=None,
                 on_stage=None, cancel: threading.Event | None = None) -> int:
    """``api.run`` in a child process (spawned: a clean llama.cpp), relaying its events to
    ``listener`` here; the run's peak memory is then this model's alone. Cancelling ``cancel``
    asks the child to stop the way a cancelled run stops (finished items are kept)."""
    import multiprocessing
    import queue

    from trust_tui import errors

    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    stop = context.Event()
    process = context.Process(target=_child_main, daemon=True, name="trust-tui-run",
                              args=(str(model), spec, options, str(store_path), events, stop))
    process.start()
    result: int | None = None
    failure: tuple[str, str] | None = None
    try:
        while True:
            if cancel is not None and cancel.is_set():
                stop.set()
            try:
                kind, payload = events.get(timeout=0.1)
            except queue.Empty:
                if not process.is_alive():
                    break
                continue
            if kind == "event" and listener is not None:
                listener(payload)
            elif kind == "stage" and on_stage is not None:
                on_stage(payload)
            elif kind == "done":
                result = payload
                break
            elif kind == "error":
                failure = payload
                break
    except BaseException:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.terminate()
        raise
    process.join(30)
    if failure is not None:
        name, message = failure
        raise getattr(errors, name, errors.TrustError)(message)
    if result is None:
        raise errors.BackendError(f"the run of {Path(str(model)).name} ended without a result "
                                  f"(exit code {process.exitcode})")
    return result


def resolve(store: Store, refs: Sequence[str | int], spec=None, options=None, listener=None,
            on_stage=None, cancel: threading.Event | None = None,
            backend_factory: Callable[[Path], Any] | None = None,
            isolate: bool = True) -> tuple[list[int], list[str]]:
    """Each ref (run id, 'latest', model path, or 'default' for the embedded model) as a finished
    run id, running models first. Returns (run ids, one note per ref)."""
    from trust_tui.engine.run import RunSpec

    kinds: list[tuple[str, Any]] = []
    for ref in refs:
        text = str(ref)
        if isinstance(ref, int) or ((text.isdigit() or text == "latest") and not Path(text).exists()):
            kinds.append(("run", store.run(text)["id"]))
        elif text == "default" and not Path(text).exists():
            kinds.append(("model", None))
        else:
            kinds.append(("model", text))
    if spec is None:
        first_run = next((value for kind, value in kinds if kind == "run"), None)
        if first_run is not None:
            saved = json.loads(store.run(first_run)["spec"] or "{}")
            spec = RunSpec(bundle=saved.get("bundle", "trust-core"), profile=saved.get("profile", "quick"),
                           dimensions=tuple(saved.get("dimensions") or ()),
                           subtasks=tuple(saved.get("subtasks") or ()),
                           generation=dict(saved.get("generation") or {}))
        else:
            spec = RunSpec()
    ids, notes = [], []
    for kind, value in kinds:
        if kind == "run":
            ids.append(value)
            notes.append(f"run {value}")
            continue
        backend = backend_factory(Path(value) if value else None) if backend_factory else None
        run_id, reused = ensure_run(store, value, spec, options, listener, on_stage, cancel,
                                    backend=backend, isolate=isolate)
        ids.append(run_id)
        notes.append(f"run {run_id} ({'reused' if reused else 'ran'} {Path(str(value or 'default')).name})")
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise TrustError(f"run {min(duplicates)} is given twice; compare different runs or models")
    return ids, notes


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
