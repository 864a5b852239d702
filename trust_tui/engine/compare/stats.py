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

from trust_tui.engine.score import scorecard as sc
from trust_tui.engine.score import stats
from trust_tui.engine.score.scorecard import _item
from trust_tui.engine.score.verdicts import passes

RESAMPLES = 2000
SEED = 0
ALPHA = 0.05
MIN_CHANGED = stats.min_units_for(ALPHA)  # 6: fewer changed units can never give p < 0.05

# Aggregates that are the mean of one value per unit (item or pair).
UNIT_AGGREGATES = frozenset({"proportion", "mean", "pair_flip", "pair_consistency", "pair_robustness"})
NO_PAIRED_TEST = {
    "chi2": "the metric is itself the p-value of a test (answer × group), and a difference of "
            "p-values is not an effect size; compare the two p-values",
}


@dataclass
class Test:
    method: str  # "mcnemar-exact" | "paired-permutation" | "none"
    p: float | None = None
    p_holm: float | None = None
    n: int = 0  # paired units (sub-tasks for a dimension)
    unit: str = "items"
    pass_to_fail: int | None = None  # discordant units (McNemar), oriented: pass = good
    fail_to_pass: int | None = None
    ci: tuple[float, float] | None = None  # 95% interval of the paired difference
    note: str = ""
    diff: float | None = None  # the difference tested, on the paired units
    changed: int | None = None  # units whose outcome differs between the runs
    exact: bool | None = None  # p-value enumerated exactly (False: Monte Carlo)
    dropped: int = 0  # units in a run's metric left out of the test: unreadable in the other run
    # Why no outcome of this test could reach p < ALPHA ("" when one could); also in ``note``.
    too_small: str = ""


def power_note(n: int, changed: int, unit: str) -> str:
    """Why a paired test cannot detect a change at α = 0.05, or "" when it can: an exact
    sign-flip test (McNemar's included) on m changed units cannot give p below 2/2^m."""
    if n < MIN_CHANGED:
        return (f"too small to detect a change at α = {ALPHA:g}: with {n} {unit} readable in both runs "
                f"the smallest possible p-value is 2/2^{n} = {stats.smallest_sign_flip_p(n):.3f} "
                f"(at least {MIN_CHANGED} {unit} must change)")
    if 0 < changed < MIN_CHANGED:  # (nothing changed: there is no change to detect)
        return (f"cannot detect a change at α = {ALPHA:g}: {changed} of {n} {unit} changed between the "
                f"runs, so p ≥ 2/2^{changed} = {stats.smallest_sign_flip_p(changed):.3f} whatever "
                f"their direction (at least {MIN_CHANGED} must change)")
    return ""


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
                undecided = row.get("score_label") == sc.UNCERTAIN  # in no denominator
                out[row["uid"]] = None if (exclude or aggregate == "mean" or undecided) else 0.0
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
    return sc.pearson_of(xs, ys)[0]  # None where the scorecard says "undefined"


def _macro_proportion_value(spec, rows) -> float | None:
    options = spec.get("aggregate_options") or {}
    exclude = options.get("unparseable") == "exclude"
    groups: dict[str, list[float]] = defaultdict(list)
    for row in sc.decided(rows):
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


# Metrics recomputed on resampled or swapped items: (spec, scored rows) -> value.
ITEM_STATISTICS: dict[str, Callable[[Mapping[str, Any], list], float | None]] = {
    "pearson": _pearson_value,
    "macro_proportion": _macro_proportion_value,
    "macro_f1": _macro_f1_value,
    "leakage_rates": _leakage_value,
    "mean_nonrefused": _mean_nonrefused_value,
    "chi2": _chi2_value,  # for dimension summaries only (no sub-task test, see NO_PAIRED_TEST)
}


def paired_statistic_bootstrap(
    statistic: Callable[[list], float | None], ref: Sequence[Any], var: Sequence[Any],
    resamples: int = RESAMPLES, seed: int = SEED,
) -> tuple[float | None, tuple[float, float]]:
    """Bootstrap over paired units (ref[i] and var[i] are the same item in the two runs) of
    statistic(var) − statistic(ref): (observed difference, 95% percentile interval). An interval
    only: the tests are sign-flip permutation tests (``stats.sign_flip_statistic``)."""
    n = len(ref)
    if n == 0 or n != len(var):
        return None, (math.nan, math.nan)
    a, b = statistic(list(ref)), statistic(list(var))
    if a is None or b is None:
        return None, (math.nan, math.nan)

    def difference(drawn: list[tuple[Any, Any]]) -> float | None:
        x, y = statistic([u for u, _ in drawn]), statistic([v for _, v in drawn])
        return None if x is None or y is None else y - x

    return b - a, stats.bootstrap_units(difference, list(zip(ref, var)), resamples, seed)


# --------------------------------------------------------------------------- paired units


def _same_row(x: Mapping[str, Any], y: Mapping[str, Any]) -> bool:
    return (x["score_value"], x["score_label"]) == (y["score_value"], y["score_label"])


@dataclass
class PairedUnits:
    """One sub-task's units readable in both runs, as (reference, variant) outcomes, and the
    metric as a statistic of a list of units: the metric's value in each run is
    ``statistic(ref)`` and ``statistic(var)``. Tests swap a unit's two outcomes; intervals
    resample units (whole pairs for pair metrics; within ``strata`` when given)."""

    unit: str
    keys: list[str]
    ref: list[Any]
    var: list[Any]
    statistic: Callable[[list], float | None]
    same: Callable[[Any, Any], bool]
    dropped: int = 0  # units in one run's metric that are not readable in the other run
    mean_of_values: bool = False  # the statistic is the plain mean of float unit values
    strata: list[Any] | None = None

    def difference(self, ref: list, var: list) -> float | None:
        x, y = self.statistic(ref), self.statistic(var)
        return None if x is None or y is None else y - x

    def observed(self) -> tuple[float | None, float | None]:
        if not self.keys:
            return None, None
        return self.statistic(self.ref), self.statistic(self.var)

    def boot(self, rng: random.Random) -> tuple[float | None, float | None]:
        picks = _draw(len(self.keys), self.strata, rng)
        return self.statistic([self.ref[i] for i in picks]), self.statistic([self.var[i] for i in picks])

    def interval(self) -> tuple[float, float]:
        def difference(drawn):
            return self.difference([x for x, _ in drawn], [y for _, y in drawn])

        return stats.bootstrap_units(difference, list(zip(self.ref, self.var)), RESAMPLES, SEED,
                                     strata=self.strata)


def _draw(n: int, strata: list[Any] | None, rng: random.Random) -> list[int]:
    if strata is None:
        return [rng.randrange(n) for _ in range(n)]
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, key in enumerate(strata):
        groups[key].append(i)
    return [g[rng.randrange(len(g))] for g in groups.values() for _ in g]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pair_up(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[list[str], int]:
    keys = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    either = {k for k in a if a[k] is not None} | {k for k in b if b[k] is not None}
    return keys, len(either) - len(keys)


def paired_units(spec: Mapping[str, Any], ref_rows: list, var_rows: list) -> PairedUnits | None:
    """The paired units of one sub-task, or None for an aggregate without them (chi2)."""
    from trust_tui.engine.trustllm import metrics as tl

    aggregate = spec["aggregate"]
    options = spec.get("aggregate_options") or {}
    if aggregate in UNIT_AGGREGATES:
        a, b = unit_values(spec, ref_rows), unit_values(spec, var_rows)
        keys, dropped = _pair_up(a, b)
        return PairedUnits("pairs" if aggregate.startswith("pair_") else "items", keys,
                           [a[k] for k in keys], [b[k] for k in keys], _mean,
                           lambda x, y: x == y, dropped, mean_of_values=True)
    if aggregate == "pair_similarity":
        reference = options.get("reference", "clean")
        a = tl.similarity_units(_scored(ref_rows), reference)
        b = tl.similarity_units(_scored(var_rows), reference)
        keys, dropped = _pair_up(a, b)
        return PairedUnits("pairs", keys, [a[k] for k in keys], [b[k] for k in keys],
                           tl.similarity_of, lambda x, y: x == y, dropped)
    if aggregate == "pair_robustness_score":
        a, _ = tl.robustness_units(_scored(ref_rows), options.get("by", "task"))
        b, _ = tl.robustness_units(_scored(var_rows), options.get("by", "task"))
        keys, dropped = _pair_up(a, b)
        return PairedUnits("pairs", keys, [a[k] for k in keys], [b[k] for k in keys],
                           tl.robustness_score, lambda x, y: x == y, dropped,
                           strata=[a[k][0] for k in keys])
    if aggregate in ITEM_STATISTICS:
        fn = ITEM_STATISTICS[aggregate]
        a = {r["uid"]: r for r in _scored(ref_rows)}
        b = {r["uid"]: r for r in _scored(var_rows)}
        keys = [k for k in a if k in b]
        return PairedUnits("items", keys, [a[k] for k in keys], [b[k] for k in keys],
                           lambda rows: fn(spec, rows), _same_row, len(set(a) ^ set(b)))
    return None


# --------------------------------------------------------------------------- one sub-task


def _orient(spec: Mapping[str, Any], value: float | None) -> float | None:
    return sc.orient(spec["aggregate"], spec["direction"], value)


def _is_binary(values: Iterable[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def _dropped_note(dropped: int, unit: str) -> str:
    if not dropped:
        return ""
    return (f"Δ and test on the {unit} readable in both runs: {dropped} {unit[:-1] if dropped == 1 else unit} "
            "unreadable in one run left out")


def subtask_test(spec: Mapping[str, Any], ref_rows: list, var_rows: list) -> tuple[Test, list[tuple[str, str]]]:
    """The paired test of one sub-task, and its flipped units as (unit, direction).

    Pass/fail units: exact McNemar test on the discordant units. Other units (a mean of values, a
    correlation, a macro average, a pair statistic): sign-flip permutation test of the metric's
    difference, each unit's two outcomes swapped or not (exact when few units changed, Monte Carlo
    otherwise). The interval is a paired bootstrap of the same difference. Both are on the units
    readable in both runs, and ``Test.diff`` is the difference they are about."""
    aggregate = spec["aggregate"]
    if aggregate in NO_PAIRED_TEST:
        return Test("none", note=NO_PAIRED_TEST[aggregate]), []
    paired = paired_units(spec, ref_rows, var_rows)
    if paired is None:
        return Test("none", note=f"no paired test for aggregate {aggregate!r}"), []
    flips = []
    if aggregate in UNIT_AGGREGATES:
        for key, before_value, after_value in zip(paired.keys, paired.ref, paired.var):
            before = passes(before_value, spec["direction"], aggregate)
            after = passes(after_value, spec["direction"], aggregate)
            if before != after:
                flips.append((key, "pass→fail" if before else "fail→pass"))
    n, unit = len(paired.keys), paired.unit
    if not n:
        return Test("none", n=0, unit=unit, dropped=paired.dropped,
                    note=f"no {unit[:-1]} was readable in both runs"), flips
    x, y = paired.observed()
    if x is None or y is None:
        return Test("none", n=n, unit=unit, dropped=paired.dropped,
                    note="the metric is undefined on the units readable in both runs"), flips
    ci = paired.interval()
    common = dict(n=n, unit=unit, ci=ci, diff=y - x, dropped=paired.dropped)
    if paired.mean_of_values and aggregate != "mean" and _is_binary(paired.ref + paired.var):
        worse = sum(1 for _, d in flips if d == "pass→fail")
        better = len(flips) - worse
        test = Test("mcnemar-exact", stats.mcnemar_exact(worse, better), pass_to_fail=worse,
                    fail_to_pass=better, changed=worse + better, exact=True, **common)
        notes = [f"exact McNemar test on the {worse + better} discordant {unit}"]
    else:
        if paired.mean_of_values:
            diffs = [b - a for a, b in zip(paired.ref, paired.var)]
            p, exact = stats.sign_flip_mean(diffs, RESAMPLES, SEED)
            changed = sum(1 for d in diffs if d != 0)
        else:
            p, exact, changed = stats.sign_flip_statistic(paired.difference, paired.ref, paired.var,
                                                          paired.same, RESAMPLES, SEED)
        if math.isnan(p):
            return Test("none", n=n, unit=unit, dropped=paired.dropped,
                        note="the metric is undefined on the units readable in both runs"), flips
        test = Test("paired-permutation", p, changed=changed, exact=exact, **common)
        notes = [(f"exact sign-flip permutation test over the 2^{changed} swaps of the {changed} changed {unit}"
                  if exact else f"Monte Carlo sign-flip permutation test ({RESAMPLES} random swaps of "
                                f"the {changed} changed {unit}, seed {SEED})")
                 + ("" if paired.mean_of_values else " of the metric's difference")]
    test.too_small = power_note(n, test.changed or 0, unit)
    notes = [test.too_small] + notes + [_dropped_note(paired.dropped, unit)]
    notes.append("interval: paired bootstrap" + (" within tasks" if paired.strata else ""))
    test.note = "; ".join(part for part in notes if part)
    return test, flips


# --------------------------------------------------------------------------- dimension summaries


class _Part:
    """One sub-task's share of a dimension summary, on its paired units: resampled for the
    bootstrap interval, or with units' two outcomes swapped for the sign-flip permutation test.
    Values are oriented (higher is better on [0, 1]), as in the summary."""

    def __init__(self, spec: Mapping[str, Any], ref_rows: list, var_rows: list,
                 observed: tuple[float | None, float | None]):
        self.spec = spec
        self.paired = paired_units(spec, ref_rows, var_rows)
        self.fixed = (_orient(spec, observed[0]), _orient(spec, observed[1]))  # the scorecards' values
        self._observed = (None, None) if self.paired is None else self.orient(self.paired.observed())

    def orient(self, pair: tuple[float | None, float | None]) -> tuple[float | None, float | None]:
        return _orient(self.spec, pair[0]), _orient(self.spec, pair[1])

    def observed(self) -> tuple[float | None, float | None]:
        """The oriented values of the two runs on the paired units (what Δ and the test use)."""
        return self._observed

    @property
    def usable(self) -> bool:
        return None not in self.observed()

    def boot(self, rng: random.Random) -> tuple[float | None, float | None]:
        return self.orient(self.paired.boot(rng))


def _summary_difference(pairs: Iterable[tuple[float | None, float | None]]) -> float | None:
    """Mean over sub-tasks of variant − reference, over the sub-tasks with both values (the
    difference of the two summaries taken over the same sub-tasks)."""
    diffs = [y - x for x, y in pairs if x is not None and y is not None]
    return sum(diffs) / len(diffs) if diffs else None


def dimension_delta(parts: list[_Part]) -> tuple[float | None, Test, str]:
    """The difference of a dimension summary between the runs, its test, and a note on what it
    covers: both on the units readable in both runs, of the sub-tasks scored in both runs."""
    usable = [part for part in parts if part.usable]
    missing = [part.spec["title"] for part in parts if not part.usable and part.fixed != (None, None)]
    value = _summary_difference(part.observed() for part in usable)
    notes = []
    if value is not None and missing:
        notes.append(f"Δ and test over the {len(usable)} sub-task{'' if len(usable) == 1 else 's'} "
                     f"scored in both runs (not {', '.join(missing)})")
    dropped = sum(part.paired.dropped for part in usable)
    if value is not None and dropped:
        notes.append(f"{dropped} unit{'' if dropped == 1 else 's'} (items or pairs) unreadable in one "
                     "run left out of Δ and test")
    return value, dimension_test(usable, value), "; ".join(notes)


def dimension_test(parts: list[_Part], observed: float | None, resamples: int = RESAMPLES,
                   seed: int = SEED) -> Test:
    """The paired test of a dimension summary (the mean of oriented sub-task values) on the
    sub-tasks' paired units: a sign-flip permutation test (each unit's two outcomes swapped or
    not, within its sub-task; exact over every swap when at most ``stats.EXACT_LIMIT`` units
    changed, Monte Carlo otherwise) for the p-value, and a paired bootstrap (units resampled
    within each sub-task) for the interval.

    With one pass/fail sub-task the exact permutation p-value is the exact McNemar test on the
    same units, so a dimension never looks surer than its only sub-task."""
    parts = [part for part in parts if part.usable]
    if observed is None or not parts:
        return Test("none", note="no summary in one of the runs")
    rng = random.Random(seed)
    boots = [_summary_difference(part.boot(rng) for part in parts) for _ in range(resamples)]
    ci = stats.percentile([math.nan if d is None else d for d in boots])
    # Every unit of every sub-task in one list, tagged with its sub-task: a swap is per unit.
    ref = [(index, u) for index, part in enumerate(parts) for u in part.paired.ref]
    var = [(index, v) for index, part in enumerate(parts) for v in part.paired.var]

    def same(x, y) -> bool:
        return parts[x[0]].paired.same(x[1], y[1])

    def difference(a: list, b: list) -> float | None:
        by_part: list[tuple[list, list]] = [([], []) for _ in parts]
        for (index, u), (_, v) in zip(a, b):
            by_part[index][0].append(u)
            by_part[index][1].append(v)
        return _summary_difference(part.orient((part.paired.statistic(x), part.paired.statistic(y)))
                                   for part, (x, y) in zip(parts, by_part))

    p, exact, changed = stats.sign_flip_statistic(difference, ref, var, same, resamples, seed)
    units = len(ref)
    note = ("sign-flip permutation test of the summary difference (units swapped between the runs "
            "within each sub-task; " + (f"exact over the 2^{changed} swaps of the {changed} changed units"
                                         if exact else f"Monte Carlo, {resamples} random swaps, seed {seed}")
            + "); interval by paired bootstrap")
    weak = power_note(units, changed, "units")
    return Test("paired-permutation", None if math.isnan(p) else min(1.0, p), n=len(parts),
                unit="sub-tasks", ci=ci, diff=observed, changed=changed, exact=exact,
                too_small=weak, note="; ".join(part for part in (weak, note) if part))
