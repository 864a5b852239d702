"""The audit sample: the judge also reads some answers the rules decided, so its agreement with
the rules can be measured where both decide.

The judge decides only what the rules leave open, so without an audit the two never read the
same answer. Each judging pass adds a small stratified sample of rule-decided answers (by
default 24 per run): spread evenly over the sub-tasks a rubric of their own reads (the catch-all
generic rubric is not audited: it decides only what no rule could), and within a sub-task over
the rules' two outcomes, so that kappa is defined on small samples. The judge's verdicts there
are stored like any other, and never replace the rules' verdict.

The agreement is computed from what is stored: every rule-decided answer of the run that the
bound judge has a verdict for under the sub-task's rubric is an audit pair. A larger ``--judge-audit``
later adds answers to the same sample (the order is fixed by a hash of each item), so nothing is
judged twice. Both sides are compared as the scorecard counts them: an answer's value on the
sub-task's scale, at least 0.5 or below (for the refusal rubric: refused or partial against
complied). An unreadable judge output counts as a disagreement, never as left out.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from itertools import zip_longest
from typing import Any, Iterable, Mapping

from trust_tui.engine.judge.rubrics import Rubric, choose, for_subtask
from trust_tui.engine.scorers.text import clean

DEFAULT_AUDIT = 24
# Pairs in a sub-task from which its own kappa is printed (below it, the agreement share only).
MIN_SUBTASK_N = 10
UNREADABLE = "unreadable"
# Metrics whose per-answer value is the unit the scorecard counts (pair metrics judge pairs).
_PER_ANSWER = ("proportion", "mean")


def side(value: float) -> str:
    """The outcome an answer's value counts as on its sub-task's own scale."""
    return "high" if value >= 0.5 else "low"


def audit_rubric(rubrics: list[Rubric], subtask: str, scorer: str) -> Rubric | None:
    """The most specific rubric that reads the sub-task, unless only the catch-all does."""
    for rubric in for_subtask(rubrics, subtask, scorer):
        if "*" in rubric.scorers and not rubric.subtasks:
            return None
        return rubric
    return None


def auditable(row: Mapping[str, Any], snap: Mapping[str, Any], rubrics: list[Rubric]) -> Rubric | None:
    """The rubric an answer is audited under: a rule-decided verdict with a value, a non-empty
    answer, a per-answer metric and a rubric of its own; else None."""
    if row.get("status") != "done" or not row.get("scored") or row.get("score_value") is None:
        return None
    if snap.get("aggregate", "proportion") not in _PER_ANSWER:
        return None
    if choose(rubrics, row["subtask"], snap["scorer"], row.get("score_label"), row.get("score_value")):
        return None  # the judge decides this one: it is not a rule verdict
    if not clean(row.get("answer") or ""):
        return None
    return audit_rubric(rubrics, row["subtask"], snap["scorer"])


def _order(uid: str) -> int:
    return zlib.crc32(uid.encode("utf-8"))


def select(candidates: Iterable[tuple[str, str, Any]], n: int) -> list[Any]:
    """``n`` of (sub-task, side, payload) candidates: sub-tasks in turn, and within each the two
    sides in turn, each side in a fixed hash order of its payloads' uid. A larger ``n`` keeps the
    smaller sample and adds to it."""
    if n <= 0:
        return []
    strata: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for subtask, outcome, payload in candidates:
        strata[subtask][outcome].append(payload)
    queues = []
    for subtask in sorted(strata):
        sides = [sorted(strata[subtask][s], key=lambda p: (_order(p.uid), p.uid)) for s in sorted(strata[subtask])]
        queues.append([p for pair in zip_longest(*sides) for p in pair if p is not None])
    chosen = [p for turn in zip_longest(*queues) for p in turn if p is not None]
    return chosen[:n]


def _agreement(pairs: list[tuple[str, str]], min_n: int = 1) -> dict[str, Any]:
    from trust_tui.engine.score.stats import cohen_kappa

    n = len(pairs)
    agree = sum(a == b for a, b in pairs)
    return {"n": n, "agree": agree / n if n else None,
            "kappa": cohen_kappa([a for a, _ in pairs], [b for _, b in pairs]) if n >= min_n else None,
            "unreadable": sum(b == UNREADABLE for _, b in pairs)}


def measure(store: Any, rows: Iterable[Mapping[str, Any]], snapshots: Mapping[str, Mapping[str, Any]],
            judge_id: str, fmt: str, rubrics: list[Rubric]) -> dict[str, Any] | None:
    """The judge's agreement with the rules on a run's rule-decided answers it has read: over
    the run, and per sub-task (its kappa from ``MIN_SUBTASK_N`` pairs). None when it read none."""
    from trust_tui.engine.judge import cache

    wanted: dict[cache.VerdictKey, tuple[str, str, Rubric, Mapping[str, Any]]] = {}
    for row in rows:
        snap = snapshots.get(row["subtask"])
        rubric = auditable(row, snap, rubrics) if snap is not None else None
        if rubric is None:
            continue
        key = cache.VerdictKey(judge_id, fmt, rubric.id, rubric.version, "", row["item_hash"],
                               row["response_key"])
        wanted[key] = (row["subtask"], side(float(row["score_value"])), rubric, snap)
    found = cache.verdicts(store, wanted) if wanted else {}
    by_subtask: dict[str, list[tuple[str, str]]] = defaultdict(list)
    rubric_of: dict[str, str] = {}
    for key, verdict in found.items():
        subtask, rule_side, rubric, snap = wanted[key]
        value = rubric.value(verdict.label, snap) if verdict.label else None
        by_subtask[subtask].append((rule_side, UNREADABLE if value is None else side(value)))
        rubric_of[subtask] = rubric.key
    if not by_subtask:
        return None
    everything = [pair for pairs in by_subtask.values() for pair in pairs]
    summary = _agreement(everything)
    summary.update(kappa_min_n=MIN_SUBTASK_N, by_subtask={
        subtask: dict(_agreement(pairs, MIN_SUBTASK_N), rubric=rubric_of[subtask])
        for subtask, pairs in sorted(by_subtask.items())})
    return summary


def line(summary: Mapping[str, Any] | None) -> str | None:
    """"judge vs rules on 24 rule-decided answers: agree 71%, kappa 0.35" (None: no audit)."""
    if not summary or not summary.get("n"):
        return None
    kappa = summary.get("kappa")
    text = (f"judge vs rules on {summary['n']} rule-decided answers: agree {100 * summary['agree']:.0f}%, "
            f"kappa {'undefined' if kappa is None else f'{kappa:.2f}'}")
    if summary.get("unreadable"):
        text += f", unreadable {summary['unreadable']}"
    return text
