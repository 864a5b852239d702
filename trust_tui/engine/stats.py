"""Small, dependency-free statistics for scorecards and comparisons.

Each function is checked in tests against values computed by hand or by SciPy.
"""

from __future__ import annotations

import math
import random
from typing import Mapping, Sequence

Z95 = 1.959963984540054


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good at small n and near 0 or 1)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean(values: Sequence[float], resamples: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (fixed seed: the same data, the same interval)."""
    n = len(values)
    if n == 0:
        return (math.nan, math.nan)
    if n == 1:
        return (values[0], values[0])
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    alpha = (1 - level) / 2
    lo = means[int(math.floor(alpha * (resamples - 1)))]
    hi = means[int(math.ceil((1 - alpha) * (resamples - 1)))]
    return (lo, hi)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    if n < 2 or n != len(ys):
        return math.nan
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return math.nan
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def fisher_ci(r: float, n: int, z: float = Z95) -> tuple[float, float]:
    """95% interval of a Pearson r through Fisher's z transform."""
    if n <= 3 or math.isnan(r):
        return (-1.0, 1.0)
    r = max(-0.999999, min(0.999999, r))
    centre = math.atanh(r)
    half = z / math.sqrt(n - 3)
    return (math.tanh(centre - half), math.tanh(centre + half))


def _gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) (Numerical Recipes' series / fraction)."""
    if x <= 0:
        return 1.0
    gln = math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - gln) * h)


def chi2_sf(x: float, dof: int) -> float:
    """P(X >= x) for a chi-square distribution with ``dof`` degrees of freedom."""
    if dof <= 0:
        return math.nan
    return _gamma_q(dof / 2.0, x / 2.0)


def chi2_independence(table: Mapping[str, Mapping[str, int]]) -> tuple[float, int, float]:
    """Pearson's chi-square test of independence on a groups × labels table of counts.

    Rows or columns that are all zero are dropped. Returns (statistic, dof, p-value); with fewer
    than two rows or columns there is nothing to test and the p-value is 1.
    """
    labels = sorted({label for row in table.values() for label, c in row.items() if c > 0})
    groups = [g for g in sorted(table) if sum(table[g].values()) > 0]
    if len(labels) < 2 or len(groups) < 2:
        return (0.0, 0, 1.0)
    row_tot = {g: sum(table[g].get(lab, 0) for lab in labels) for g in groups}
    col_tot = {lab: sum(table[g].get(lab, 0) for g in groups) for lab in labels}
    total = sum(row_tot.values())
    stat = 0.0
    for g in groups:
        for lab in labels:
            expected = row_tot[g] * col_tot[lab] / total
            if expected > 0:
                stat += (table[g].get(lab, 0) - expected) ** 2 / expected
    dof = (len(groups) - 1) * (len(labels) - 1)
    return (stat, dof, chi2_sf(stat, dof))


def binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial test of k successes in n trials at p = 0.5."""
    if n == 0:
        return 1.0
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int) -> float:
    """Exact McNemar test: the discordant pairs against a fair coin."""
    return binom_two_sided(pass_to_fail, pass_to_fail + fail_to_pass)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int = 5000,
                     seed: int = 0) -> tuple[float, tuple[float, float], float]:
    """Mean difference b - a over paired items, its 95% interval, and a two-sided p-value.

    The p-value is the share of resampled mean differences on the other side of zero, doubled
    (the percentile-bootstrap test), floored at 1/resamples.
    """
    n = len(a)
    if n == 0 or n != len(b):
        return (math.nan, (math.nan, math.nan), math.nan)
    diffs = [y - x for x, y in zip(a, b)]
    observed = sum(diffs) / n
    if all(d == diffs[0] for d in diffs):
        return (observed, (observed, observed), 1.0 if observed == 0 else 1.0 / resamples)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    lo = means[int(0.025 * (resamples - 1))]
    hi = means[int(math.ceil(0.975 * (resamples - 1)))]
    below = sum(1 for m in means if m <= 0) / resamples
    above = sum(1 for m in means if m >= 0) / resamples
    p = min(1.0, 2 * min(below, above))
    return (observed, (lo, hi), max(p, 1.0 / resamples))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order (NaN stays NaN)."""
    indexed = [(p, i) for i, p in enumerate(pvalues) if not math.isnan(p)]
    indexed.sort()
    m = len(indexed)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
