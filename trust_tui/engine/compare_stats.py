"""Paired statistics for comparisons: per-unit values, tests on one sub-task, dimension summaries.

Split from ``compare.py`` (which assembles a comparison and imports from here, never the other
way round) so the statistics can be read, and tested, apart from building and storing comparisons
and from running models. ``Test`` lives here because these functions return it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from trust_tui.engine import scorecard as sc
from trust_tui.engine import stats
from trust_tui.engine.scorecard import _item
from trust_tui.engine.verdicts import passes

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


# --------------------------------------------------------------------------- per-unit values


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
    xs, ys = sc.rating_pairs(rows)
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
    groups = sc.f1_groups(rows, spec.get("aggregate_options") or {})
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


def subtask_test(spec: Mapping[str, Any], ref_rows: list, var_rows: list) -> tuple[Test, list[tuple[str, str]]]:
    """The paired test of one sub-task, and its flipped units as (unit, direction)."""
    aggregate = spec["aggregate"]
    if aggregate in UNIT_AGGREGATES:
        a, b = unit_values(spec, ref_rows), unit_values(spec, var_rows)
        keys = [k for k in a if k in b and a[k] is not None and b[k] is not None]
        unit = "pairs" if aggregate.startswith("pair_") else "items"
        flips = []
        for key in keys:
            before = passes(a[key], spec["direction"], aggregate)
            after = passes(b[key], spec["direction"], aggregate)
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
