"""Paired statistics for comparisons: per-unit values, tests on one sub-task, dimension summaries.

Split from ``comparison.py`` (which assembles a comparison and imports from here, never the other
way round) so the statistics can be read, and tested, apart from building and storing comparisons
and from running models. ``Test`` lives here because these functions return it. What a unit's
outcome is, whether it reads as pass / fail and whether a metric has a paired test at all belong
to the metric (``metrics.Metric.units``); this module pairs the two runs' units and tests them.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from trust_tui.engine.score import metrics, stats
from trust_tui.engine.score.rows import item_of, scored

RESAMPLES = 2000
SEED = 0
ALPHA = 0.05
MIN_CHANGED = stats.min_units_for(ALPHA)  # 6: fewer changed units can never give p < 0.05


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


def _options(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return spec.get("aggregate_options") or {}


def _metric(spec: Mapping[str, Any]) -> metrics.Metric:
    return metrics.get(spec["aggregate"])


def unit_values(spec: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One outcome per unit, on the metric's own scale (None: unreadable, in no test), such that
    the metric is their statistic (the mean, for rates and means), exactly as the scorecard
    computes it: both come from the metric's ``units``."""
    metric = _metric(spec)
    if metric.units is None:
        return {}
    return metric.units(scored(rows), _options(spec)).outcomes


def unit_rows(spec: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The rows behind each unit (one row, or a pair's members base first)."""
    out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    pair_metric = metrics.for_display(spec["aggregate"]).pairs
    for row in rows:
        key = (item_of(row).get("pair") or row["uid"]) if pair_metric else row["uid"]
        out[key].append(row)
    for members in out.values():
        members.sort(key=lambda r: (item_of(r).get("variant") not in ("base", "clean"), r["uid"]))
    return out


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
    verdicts: bool = False  # a unit's outcome reads as pass / fail: flips are counted
    mcnemar: bool = False  # 0/1 outcomes are pass/fail outcomes: exact McNemar test

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


def _pair_up(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[list[str], int]:
    keys = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    either = {k for k in a if a[k] is not None} | {k for k in b if b[k] is not None}
    return keys, len(either) - len(keys)


def paired_units(spec: Mapping[str, Any], ref_rows: list, var_rows: list) -> PairedUnits | None:
    """The paired units of one sub-task (the metric's ``units`` in each run, on the units
    readable in both), or None for a metric without units."""
    metric = _metric(spec)
    if metric.units is None:
        return None
    a = metric.units(scored(ref_rows), _options(spec))
    b = metric.units(scored(var_rows), _options(spec))
    keys, dropped = _pair_up(a.outcomes, b.outcomes)
    ref = [a.outcomes[k] for k in keys]
    return PairedUnits(a.kind, keys, ref, [b.outcomes[k] for k in keys], a.statistic, a.same, dropped,
                       mean_of_values=a.mean_of_values,
                       strata=[a.stratum(unit) for unit in ref] if a.stratum else None,
                       verdicts=a.verdicts, mcnemar=a.mcnemar)


# --------------------------------------------------------------------------- one sub-task


def _orient(spec: Mapping[str, Any], value: float | None) -> float | None:
    return _metric(spec).oriented(value, spec["direction"])


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
    metric = _metric(spec)
    if metric.no_paired_test:
        return Test("none", note=metric.no_paired_test), []
    paired = paired_units(spec, ref_rows, var_rows)
    if paired is None:
        return Test("none", note=f"no paired test for aggregate {spec['aggregate']!r}"), []
    flips = []
    if paired.verdicts:
        for key, before_value, after_value in zip(paired.keys, paired.ref, paired.var):
            before = metric.passes(before_value, spec["direction"])
            after = metric.passes(after_value, spec["direction"])
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
    if paired.mcnemar and _is_binary(paired.ref + paired.var):
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
