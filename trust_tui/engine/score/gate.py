"""A CI gate on a scorecard or a comparison: requirements a maintainer writes on the command line.

``--require safety>=0.8`` holds a dimension summary, ``--require misuse>=0.9`` or
``--require safety/exaggerated_safety<=0.2`` a sub-task's own value (on its own scale and direction);
``--max-drop safety=5`` holds how far a variant may fall behind the reference in points (100 x the
change in the metric's bad direction, on the metric's own scale); ``--max-flips 10`` the number of
items that went from pass to fail. A requirement on a value that could not be computed fails: a gate
that cannot see does not pass.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from trust_tui.errors import TrustError


class GateFailed(TrustError):
    """A requirement of --require / --max-drop / --max-flips does not hold."""

    exit_code = 9


_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_REQUIRE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(>=|<=|>|<)\s*(-?[0-9.]+)\s*(%?)\s*$")
_DROP = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*=\s*([0-9.]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    target: str  # a dimension id, a sub-task id ("safety/misuse") or a sub-task name ("misuse")
    op: str
    threshold: float
    text: str

    def holds(self, value: float | None) -> bool:
        return value is not None and _OPS[self.op](value, self.threshold)


@dataclass(frozen=True)
class MaxDrop:
    target: str
    points: float
    text: str


def parse_requirement(text: str) -> Requirement:
    match = _REQUIRE.match(text)
    if not match:
        raise TrustError(f"--require {text!r}: write NAME>=VALUE (e.g. safety>=0.8, misuse>=90%)")
    target, op, number, percent = match.groups()
    try:
        threshold = float(number) / (100 if percent else 1)
    except ValueError:
        raise TrustError(f"--require {text!r}: {number!r} is not a number") from None
    return Requirement(target, op, threshold, text.strip())


def parse_max_drop(text: str) -> MaxDrop:
    match = _DROP.match(text)
    if not match:
        raise TrustError(f"--max-drop {text!r}: write NAME=POINTS (e.g. safety=5)")
    return MaxDrop(match.group(1), float(match.group(2)), text.strip())


def _find(target: str, names: Iterable[tuple[str, str]], what: str) -> list[str]:
    """Ids matching ``target``: an exact id, or a sub-task name (the part after the slash)."""
    names = list(names)
    exact = [i for i, _ in names if i == target]
    if exact:
        return exact
    by_name = [i for i, kind in names if kind == "subtask" and i.split("/", 1)[-1] == target]
    if not by_name:
        known = ", ".join(sorted({i for i, _ in names}))
        raise TrustError(f"{what} {target!r}: no such dimension or sub-task in this run (known: {known})")
    return by_name


def check_scorecard(card, requirements: Sequence[Requirement]) -> list[str]:
    """The failed requirements, one phrase each (empty: the gate passes)."""
    values = {d.id: d.value for d in card.dimensions}
    values.update({s.id: s.value for s in card.subtasks})
    names = [(d.id, "dimension") for d in card.dimensions] + [(s.id, "subtask") for s in card.subtasks]
    failed = []
    for req in requirements:
        for ident in _find(req.target, names, "--require"):
            value = values.get(ident)
            if not req.holds(value):
                shown = "no value" if value is None else f"{value:.3f}"
                failed.append(f"{ident} {shown} (required {req.op} {req.threshold:g})")
    return failed


def _drop_points(delta) -> float | None:
    """How far the variant fell behind, in points (0 when it did not get worse)."""
    if delta is None or delta.value is None:
        return None
    return abs(delta.value) * 100 if delta.better is False else 0.0


def check_comparison(comparison, max_drops: Sequence[MaxDrop], max_flips: int | None) -> list[str]:
    rows = {r.id: r for r in comparison.dimensions + comparison.subtasks}
    names = [(r.id, r.kind) for r in comparison.dimensions + comparison.subtasks]
    labels = [v.label for v in comparison.variants]
    failed = []
    for rule in max_drops:
        for ident in _find(rule.target, names, "--max-drop"):
            row = rows[ident]
            for index in range(1, len(row.deltas)):
                points = _drop_points(row.deltas[index])
                if points is None:
                    failed.append(f"{ident}: no difference could be computed for {labels[index]}")
                elif points > rule.points:
                    failed.append(f"{ident} fell {points:.1f} points in {labels[index]} (at most {rule.points:g})")
    if max_flips is not None:
        for index in range(1, len(comparison.variants)):
            worse = sum(1 for f in comparison.flips if f.variant == index and f.worse)
            if worse > max_flips:
                failed.append(f"{worse} items went pass→fail in {labels[index]} (at most {max_flips})")
    return failed


def enforce(failed: Sequence[str]) -> None:
    if failed:
        raise GateFailed("gate failed: " + "; ".join(failed))
