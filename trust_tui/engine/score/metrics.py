"""Metrics as registered objects: what a sub-task's ``aggregate`` names.

A ``Metric`` is everything trust-tui knows about one way of turning per-item scores into a number:
its definition, its scale (and so how a value, an interval and a difference are written), its
orientation, its value and interval (``measure``), the per-unit outcomes a comparison's paired test
swaps (``units``), and the per-item verdicts of the drill-down. The scorecard, the comparison, the
verdicts, bundle validation, the CLI, the app and both exports ask this registry; none of them
names a metric. Adding a metric is one ``register`` call in one module.

Where metrics come from: the modules in ``METRIC_MODULES``, imported on the first lookup
(trust_tui/engine/registry.py says why); a feature package (the TrustLLM import) registers from
its own module, which never imports the scorecard. A test registers its own metric with
``register`` (and removes it with ``unregister``).

Formatting has one rule, the scale's: a rate is shown as a percentage and a difference of rates in
percentage points ("+4.2 pt"); any other metric is shown in its own decimals, and so is a
difference of it (a correlation "r=+0.41", a difference "+0.12").
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from trust_tui.engine.registry import Registry

METRIC_MODULES = (
    "trust_tui.engine.score.core_metrics",  # the core metrics
    "trust_tui.engine.trustllm.metrics",  # the TrustLLM feature's own aggregates
)


# --------------------------------------------------------------------------- scales


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Scale:
    """How numbers of one kind are written; ``name`` goes into the JSON export."""

    name: str
    value: Callable[[float], str]
    interval: Callable[[float, float], str]
    delta: Callable[[float], str]


PERCENT = Scale("percent", lambda v: f"{100 * v:.1f}%", lambda lo, hi: f"[{100 * lo:.1f}, {100 * hi:.1f}]",
                lambda d: f"{100 * d:+.1f} pt")
DECIMAL = Scale("decimal", lambda v: f"{v:.3f}", lambda lo, hi: f"[{lo:.3f}, {hi:.3f}]",
                lambda d: f"{d:+.3f}")
CORRELATION = Scale("correlation", lambda v: f"r={v:+.2f}", lambda lo, hi: f"[{lo:+.2f}, {hi:+.2f}]",
                    lambda d: f"{d:+.2f}")
P_VALUE = Scale("p-value", lambda v: f"p={v:.3f}" if v >= 0.001 else "p<0.001",
                lambda lo, hi: f"[{lo:.3f}, {hi:.3f}]", lambda d: f"{d:+.3f}")


# --------------------------------------------------------------------------- what a metric returns


@dataclass
class Measure:
    """A metric on one sub-task's scored rows: value, 95% interval, what entered it, and notes."""

    value: float | None = None
    ci: tuple[float, float] | None = None
    n: int = 0  # units (items or pairs) that entered the value
    unit: str = "items"
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Units:
    """One run's per-unit outcomes of a metric, for a paired comparison: the metric's value is
    ``statistic(list of outcomes)``. A paired test swaps a unit's two outcomes between runs; a
    paired bootstrap resamples units (within ``stratum(outcome)`` when given)."""

    outcomes: dict[str, Any]  # unit key (uid or pair id) -> outcome; None: unreadable, left out
    statistic: Callable[[list], float | None]
    kind: str = "items"  # or "pairs"
    same: Callable[[Any, Any], bool] = operator.eq
    mean_of_values: bool = False  # the statistic is the plain mean of float outcomes
    verdicts: bool = False  # an outcome reads as pass / fail (``Metric.passes``): flips are counted
    mcnemar: bool = False  # 0/1 outcomes are pass/fail: an exact McNemar test applies
    stratum: Callable[[Any], Any] | None = None


MeasureFn = Callable[[list, Mapping[str, Any]], Measure]
ValueFn = Callable[[list, Mapping[str, Any]], "float | None"]
UnitsFn = Callable[[list, Mapping[str, Any]], Units]
# (the metric, readable rows, the sub-task's direction) -> {uid: "pass" | "fail" | "scored"}
VerdictFn = Callable[["Metric", list, str], dict]


def _identity(value: float) -> float:
    return value


@dataclass(frozen=True)
class Metric:
    name: str
    definition: str  # one sentence: what the value is and how its interval is made
    scale: Scale
    measure: MeasureFn  # value, interval, n and extras from the scored rows
    value: ValueFn | None = None  # the value alone, fast (resampling); default: measure(...).value
    units: UnitsFn | None = None  # per-unit outcomes for a paired comparison (None: no paired units)
    no_paired_test: str = ""  # why a comparison has no paired test of this metric ("" when it has)
    verdicts: VerdictFn | None = None  # per-item verdicts (None: every readable item is "scored")
    direction: str | None = None  # "higher" whatever the bundle says (correlations, p-values)
    to_unit: Callable[[float], float] = _identity  # the value on [0, 1] before orientation
    pairs: bool = False  # items come in pairs (``pair`` / ``variant``), the pair is the unit
    pair_reference: str | None = None  # the variant every pair must have ("base", "clean")
    selectable: bool = True  # a bundle may name it (the dimension summary may not)

    # ---------------------------------------------------------------- numbers

    def value_of(self, rows: list, options: Mapping[str, Any] | None = None) -> float | None:
        if self.value is not None:
            return self.value(rows, options or {})
        return self.measure(rows, options or {}).value

    def direction_for(self, direction: str) -> str:
        """The direction that holds: the metric's own where it has one, else the bundle's."""
        return self.direction or direction

    def oriented(self, value: float | None, direction: str) -> float | None:
        """The value on the higher-is-better [0, 1] scale of dimension summaries."""
        if _missing(value):
            return None
        unit = self.to_unit(value)
        return 1 - unit if self.direction_for(direction) == "lower" else unit

    def oriented_interval(self, ci: tuple[float, float] | None,
                          direction: str) -> tuple[float, float] | None:
        if ci is None or any(_missing(v) for v in ci):
            return None
        ends = sorted((self.oriented(ci[0], direction), self.oriented(ci[1], direction)))
        return (ends[0], ends[1])

    def passes(self, value: float, direction: str) -> bool:
        """The one rule for a unit's verdict: its oriented value is at least 0.5."""
        return self.oriented(float(value), direction) >= 0.5

    def better(self, delta: float | None, direction: str) -> bool | None:
        """Whether a change goes the metric's good way (None: no change, or none computed)."""
        if delta is None or delta == 0 or _missing(delta):
            return None
        return delta > 0 if self.direction_for(direction) == "higher" else delta < 0

    # ---------------------------------------------------------------- text

    def fmt(self, value: float | None) -> str:
        return "–" if _missing(value) else self.scale.value(value)

    def fmt_ci(self, ci: tuple[float, float] | None) -> str:
        if ci is None or any(_missing(v) for v in ci):
            return ""
        return self.scale.interval(ci[0], ci[1])

    def fmt_with_ci(self, value: float | None, ci: tuple[float, float] | None) -> str:
        return f"{self.fmt(value)} {self.fmt_ci(ci)}".strip()

    def fmt_delta(self, delta: float | None) -> str:
        return "–" if _missing(delta) else self.scale.delta(delta)


# --------------------------------------------------------------------------- the dimension summary


def _summary_measure(rows: list, options: Mapping[str, Any]) -> Measure:
    raise TypeError("the dimension summary is computed from sub-tasks (scorecard.summarise), not from items")


SUMMARY = Metric(
    "summary",
    "mean of the dimension's sub-task scores, each oriented so that higher is better on [0, 1] "
    "(1 - v for lower-is-better metrics, max(0, r) for correlations, (RS + 1) / 2 for the AdvGLUE "
    "robustness score RS, which lies in [-1, 1]; sub-tasks without a value are left out); the "
    "interval combines the sub-task intervals, oriented the same way, as independent normal errors",
    PERCENT, _summary_measure, direction="higher", selectable=False)


# --------------------------------------------------------------------------- the registry

_METRICS: Registry[Metric] = Registry("metric", METRIC_MODULES, builtin=[SUMMARY])
_REGISTRY = _METRICS.entries  # tests register fixtures here with monkeypatch.setitem
register = _METRICS.register
unregister = _METRICS.unregister
get = _METRICS.get
find = _METRICS.find


def names() -> list[str]:
    """The metrics a bundle may name, in registration order."""
    return [metric.name for metric in _METRICS.values() if metric.selectable]


def definition(name: str) -> str:
    metric = find(name)
    return metric.definition if metric else name


# Stored runs keep their aggregate's name; one removed since is still shown, as a rate. A
# sub-task snapshot that names no aggregate at all is read as the plain rate.
_UNKNOWN_SCALE = PERCENT
DEFAULT = "proportion"


def for_display(name: str) -> Metric:
    """The metric to format a value of ``name`` with; an unknown name is written as a rate."""
    metric = find(name)
    if metric is not None:
        return metric

    def unknown(rows: list, options: Mapping[str, Any]) -> Measure:
        raise KeyError(name)

    return Metric(name, name, _UNKNOWN_SCALE, unknown, selectable=False)


def fmt(value: float | None, name: str = SUMMARY.name) -> str:
    return for_display(name).fmt(value)


def fmt_ci(ci: tuple[float, float] | None, name: str = SUMMARY.name) -> str:
    return for_display(name).fmt_ci(ci)


def fmt_delta(delta: float | None, name: str = SUMMARY.name) -> str:
    return for_display(name).fmt_delta(delta)
