"""Small, dependency-free statistics for scorecards and comparisons.

Each function is checked in tests against values computed by hand or by SciPy.
"""

from __future__ import annotations

from collections import Counter

import math
import random
from typing import Any, Callable, Mapping, Sequence

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


def _pearson_statistic(table: list[list[int]]) -> tuple[float, float]:
    """Pearson's X² of a table of counts (no zero row or column) and its smallest expected count."""
    row_tot = [sum(row) for row in table]
    col_tot = [sum(col) for col in zip(*table)]
    total = sum(row_tot)
    stat, smallest = 0.0, math.inf
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            expected = row_tot[i] * col_tot[j] / total
            smallest = min(smallest, expected)
            stat += (count - expected) ** 2 / expected
    return stat, smallest


def _as_table(table: Mapping[str, Mapping[str, int]]) -> tuple[list[str], list[str], list[list[int]]]:
    labels = sorted({label for row in table.values() for label, c in row.items() if c > 0})
    groups = [g for g in sorted(table) if sum(table[g].values()) > 0]
    return groups, labels, [[table[g].get(lab, 0) for lab in labels] for g in groups]


def chi2_independence(table: Mapping[str, Mapping[str, int]]) -> tuple[float, int, float]:
    """Pearson's chi-square test of independence (no continuity correction) on a groups × labels
    table of counts. Rows or columns that are all zero are dropped. Returns (statistic, dof,
    p-value); with fewer than two rows or columns there is nothing to test and the p-value is 1.
    Use ``independence_test``, which falls back to an exact test when the chi-square's large-sample
    approximation does not hold."""
    _, labels, counts = _as_table(table)
    if len(labels) < 2 or len(counts) < 2:
        return (0.0, 0, 1.0)
    stat, _ = _pearson_statistic(counts)
    dof = (len(counts) - 1) * (len(labels) - 1)
    return (stat, dof, chi2_sf(stat, dof))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact test of the 2 × 2 table [[a, b], [c, d]]: the total hypergeometric
    probability of the tables with the same margins that are no more probable than this one
    (SciPy's ``fisher_exact`` convention). Integer arithmetic, so ties are exact."""
    row1, col1, total = a + b, a + c, a + b + c + d
    low, high = max(0, row1 + col1 - total), min(row1, col1)
    weights = {x: math.comb(col1, x) * math.comb(total - col1, row1 - x) for x in range(low, high + 1)}
    observed = weights[a]
    tail = sum(w for w in weights.values() if w <= observed)
    return min(1.0, tail / math.comb(total, row1))


def permutation_independence(table: Mapping[str, Mapping[str, int]], resamples: int = 2000,
                             seed: int = 0) -> float:
    """Monte Carlo exact test of independence on a groups × labels table: the answers are
    shuffled among the items (every row and column total stays as observed) and the p-value is
    (1 + tables with X² at least the observed) / (1 + resamples). Fixed seed: the same table,
    the same p-value."""
    _, labels, counts = _as_table(table)
    if len(labels) < 2 or len(counts) < 2:
        return 1.0
    observed, _ = _pearson_statistic(counts)
    groups = [g for g, row in enumerate(counts) for _ in range(sum(row))]
    answers = [j for row in counts for j, count in enumerate(row) for _ in range(count)]
    row_tot = [sum(row) for row in counts]
    col_tot = [sum(col) for col in zip(*counts)]
    total = len(answers)
    expected = [[r * c / total for c in col_tot] for r in row_tot]
    tolerance = 1e-9 * max(1.0, observed)
    rng = random.Random(seed)
    width = len(labels)
    extreme = 0
    for _ in range(resamples):
        rng.shuffle(answers)
        cells = [0] * (len(counts) * width)
        for g, j in zip(groups, answers):
            cells[g * width + j] += 1
        stat = 0.0
        for g, row in enumerate(expected):
            for j, e in enumerate(row):
                stat += (cells[g * width + j] - e) ** 2 / e
        if stat >= observed - tolerance:
            extreme += 1
    return (extreme + 1) / (resamples + 1)


def independence_test(table: Mapping[str, Mapping[str, int]], resamples: int = 2000,
                      seed: int = 0) -> dict:
    """The test of independence between group and answer that suits the counts.

    Pearson's chi-square (no continuity correction) when every expected count is at least 5;
    otherwise an exact test: Fisher's for a 2 × 2 table, a Monte Carlo permutation test
    (``permutation_independence``) for larger ones. Returns {"method", "chi2", "dof", "p",
    "min_expected"}; a table with fewer than two groups or answers has nothing to test (p = 1)."""
    _, labels, counts = _as_table(table)
    if len(labels) < 2 or len(counts) < 2:
        return {"method": "none", "chi2": 0.0, "dof": 0, "p": 1.0, "min_expected": None}
    stat, smallest = _pearson_statistic(counts)
    dof = (len(counts) - 1) * (len(labels) - 1)
    if smallest >= 5:
        method, p = "chi-square", chi2_sf(stat, dof)
    elif dof == 1:
        (a, b), (c, d) = counts
        method, p = "fisher-exact", fisher_exact(a, b, c, d)
    else:
        method, p = "permutation", permutation_independence(table, resamples, seed)
    return {"method": method, "chi2": stat, "dof": dof, "p": p, "min_expected": smallest}


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


def smallest_sign_flip_p(changed: int) -> float:
    """The smallest two-sided p-value an exact sign-flip test (McNemar's included: it is the
    sign-flip test of pass/fail outcomes) can give when ``changed`` units differ between the two
    runs: all of them moving the same way, 2 / 2^changed. Below six changed units it is above
    0.05, so no outcome can be significant at α = 0.05."""
    return min(1.0, 2.0 / 2 ** changed) if changed > 0 else 1.0


def min_units_for(alpha: float = 0.05) -> int:
    """Fewest changed units (discordant pairs) that can give an exact sign-flip p below alpha."""
    changed = 1
    while smallest_sign_flip_p(changed) >= alpha:
        changed += 1
    return changed


EXACT_LIMIT = 12  # changed units up to which the sign-flip test enumerates all 2^m assignments
EXACT_LIMIT_MEAN = 16  # the same for a plain mean difference (enumerated as sums: cheap)


def _tolerance(value: float) -> float:
    return 1e-9 * max(1.0, abs(value))


def sign_flip_mean(diffs: Sequence[float], resamples: int = 2000,
                   seed: int = 0) -> tuple[float, bool]:
    """Two-sided sign-flip permutation test of a mean paired difference: under no change, each
    unit's difference is as likely negative as positive. Returns (p-value, exact): exact over all
    2^m sign assignments of the m non-zero differences when m <= EXACT_LIMIT_MEAN, otherwise a
    Monte Carlo estimate (1 + as extreme) / (1 + resamples) with a fixed seed. The same p-value as
    SciPy's ``permutation_test(..., permutation_type='samples')``, which doubles the smaller tail."""
    nonzero = [d for d in diffs if d != 0]
    observed = abs(sum(nonzero))
    if not nonzero or observed <= _tolerance(0.0):
        return 1.0, True
    threshold = observed - _tolerance(observed)
    if len(nonzero) <= EXACT_LIMIT_MEAN:
        sums = [0.0]
        for d in nonzero:
            sums = [s + d for s in sums] + [s - d for s in sums]
        return sum(1 for s in sums if abs(s) >= threshold) / len(sums), True
    rng = random.Random(seed)
    extreme = sum(1 for _ in range(resamples)
                  if abs(sum(d if rng.random() < 0.5 else -d for d in nonzero)) >= threshold)
    return (extreme + 1) / (resamples + 1), False


def sign_flip_statistic(difference: Callable[[list, list], float | None], ref: Sequence[Any],
                        var: Sequence[Any], same: Callable[[Any, Any], bool] | None = None,
                        resamples: int = 2000, seed: int = 0) -> tuple[float, bool, int]:
    """Two-sided sign-flip permutation test of ``difference(ref, var)`` (a statistic of the
    variant's units minus the same statistic of the reference's) on paired units: under no change
    the two outcomes of each unit are exchangeable, so each unit's pair is swapped or not.

    Units whose two outcomes are the same (``same``) are never swapped: that changes nothing.
    Returns (p-value, exact, changed units). Exact over all 2^m swaps of the m changed units when
    m <= EXACT_LIMIT, otherwise Monte Carlo, (1 + as extreme) / (1 + resamples), fixed seed. A swap
    for which the statistic is undefined counts as extreme (the conservative choice). Swapping
    every unit negates the difference, so counting |d*| >= |d| equals SciPy's
    ``permutation_test(..., permutation_type='samples')`` doubling of the smaller tail."""
    same = same or (lambda x, y: x == y)
    n = len(ref)
    observed = difference(list(ref), list(var))
    if observed is None or math.isnan(observed):
        return math.nan, True, 0
    changed = [i for i in range(n) if not same(ref[i], var[i])]
    if not changed or abs(observed) <= _tolerance(0.0):
        return 1.0, True, len(changed)
    threshold = abs(observed) - _tolerance(observed)

    def extreme(swapped: set[int]) -> bool:
        a = [var[i] if i in swapped else ref[i] for i in range(n)]
        b = [ref[i] if i in swapped else var[i] for i in range(n)]
        d = difference(a, b)
        return d is None or math.isnan(d) or abs(d) >= threshold

    m = len(changed)
    if m <= EXACT_LIMIT:
        hits = sum(extreme({changed[j] for j in range(m) if mask >> j & 1}) for mask in range(2 ** m))
        return hits / 2 ** m, True, m
    rng = random.Random(seed)
    hits = sum(extreme({i for i in changed if rng.random() < 0.5}) for _ in range(resamples))
    return (hits + 1) / (resamples + 1), False, m


def percentile(values: list[float], level: float = 0.95) -> tuple[float, float]:
    values = sorted(v for v in values if not math.isnan(v))
    if not values:
        return (math.nan, math.nan)
    alpha = (1 - level) / 2
    lo = values[int(math.floor(alpha * (len(values) - 1)))]
    hi = values[int(math.ceil((1 - alpha) * (len(values) - 1)))]
    return (lo, hi)


def bootstrap_units(statistic: Callable[[list], float | None], units: Sequence[Any],
                    resamples: int = 2000, seed: int = 0, level: float = 0.95,
                    strata: Sequence[Any] | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over resampled units (items, or whole pairs
    for pair metrics: the unit the data were drawn in). With ``strata`` (one key per unit) units
    are resampled within each stratum, whose size stays fixed (tasks of a benchmark). Resamples
    where the statistic is undefined are left out."""
    n = len(units)
    if n == 0:
        return (math.nan, math.nan)
    groups: list[list[int]] = [list(range(n))]
    if strata is not None:
        by: dict[Any, list[int]] = {}
        for i, key in enumerate(strata):
            by.setdefault(key, []).append(i)
        groups = list(by.values())
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        drawn = [units[g[rng.randrange(len(g))]] for g in groups for _ in g]
        value = statistic(drawn)
        values.append(math.nan if value is None else value)
    return percentile(values, level)


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], resamples: int = 2000,
                        seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Mean difference b - a over paired items and its 95% percentile bootstrap interval (the
    items resampled). An interval only: its p-value would be anti-conservative at small n (3
    changed items of 5, all one way, would read p = 0.02 where the exact test says 0.25); test
    with ``mcnemar_exact`` or ``sign_flip_mean``."""
    n = len(a)
    if n == 0 or n != len(b):
        return (math.nan, (math.nan, math.nan))
    diffs = [y - x for x, y in zip(a, b)]
    observed = sum(diffs) / n
    if all(d == diffs[0] for d in diffs):
        return (observed, (observed, observed))
    return (observed, bootstrap_units(lambda ds: sum(ds) / len(ds), diffs, resamples, seed))


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


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two labelings of the same items; None when undefined (no items, or
    chance agreement 1: both gave one and the same label to everything)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in set(a) | set(b)) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)
