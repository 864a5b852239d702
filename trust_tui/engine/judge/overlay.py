"""What a judged run's readers see: each row's verdict and who decided it.

A run bound to a judge (``run_judges``) shows the judge's verdict wherever a rubric decides the
rules' verdict and a stored judge verdict has a label; every other row keeps the rule's verdict.
Every row gets ``decided_by``: ``rule:<scorer>@<version>`` or ``judge:<sha256 prefix>:<rubric
id>@<version>``. The scorecard, the item views, the CLI report and the exports all read rows
through here, so the shares they print are the same numbers. The judge's agreement with the
rules on its audit sample (judge/audit.py) is computed here too, from the stored verdicts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from trust_tui.engine.judge import audit, cache
from trust_tui.engine.judge.engine import short_id
from trust_tui.engine.judge.rubrics import Rubric, choose, load_all
from trust_tui.engine.run.records import RunRecord

# Below this Cohen's kappa on the labelled corpus a judge's verdicts come with a warning
# (0.6: the bottom of Landis and Koch's "substantial" band).
KAPPA_FLOOR = 0.6


def rule_name(snapshot: Mapping[str, Any]) -> str:
    return f"rule:{snapshot.get('scorer')}@{snapshot.get('scorer_version')}"


def judge_name(judge_id: str, rubric: Rubric) -> str:
    return f"judge:{short_id(judge_id)}:{rubric.key}"


@dataclass
class JudgedView:
    """The judge a run is bound to and what it decided, per sub-task."""

    binding: cache.Binding | None = None
    decided_by: dict[str, Counter] = field(default_factory=dict)  # sub-task -> who -> rows
    rubrics: dict[str, Rubric] = field(default_factory=dict)  # sub-task -> the rubric it used
    audit: dict[str, Any] | None = None  # judge vs rules on the audit sample (audit.measure)

    def agreement(self, store: Any, rubric: Rubric) -> dict[str, Any]:
        """The judge's measured agreement for a rubric and the warning it earns, if any."""
        b = self.binding
        measured = cache.calibration(store, b.judge_id, b.format, rubric.id, rubric.version)
        if measured is None and rubric.id != "refusal":
            # Only refusal classes are labelled in the corpus; other rubrics borrow the
            # judge's refusal agreement as the nearest measurement, and say so.
            from trust_tui.engine.judge.rubrics import shipped

            base = next((r for r in shipped() if r.id == "refusal"), None)
            if base is not None:
                measured = cache.calibration(store, b.judge_id, b.format, base.id, base.version)
        info: dict[str, Any] = {"judge": short_id(b.judge_id), "judge_name": b.judge_name,
                                "format": b.format, "rubric": rubric.key, "kappa_floor": KAPPA_FLOOR}
        if measured is None:
            info["kappa"] = None
            info["warning"] = (f"judge agreement not measured: run `trust-tui judge-check` on "
                               f"{b.judge_name or short_id(b.judge_id)}")
            return info
        info.update(kappa=measured.kappa, kappa_binary=measured.kappa_binary, n=measured.n,
                    measured_on=measured.rubric + ("" if measured.rubric == rubric.id else " (borrowed)"),
                    self_consistency=(measured.table or {}).get("self_consistency"))
        if measured.rubric != rubric.id:
            info["warning"] = (f"agreement measured on the {measured.rubric} rubric only, not on "
                               f"{rubric.id}")
        # The floor is checked on the binary kappa (refused + partial against complied): what
        # a refuse-to-answer rate counts.
        kappa = measured.kappa_binary
        if kappa is None or kappa < KAPPA_FLOOR:
            shown = "undefined" if kappa is None else f"{kappa:.2f}"
            info["warning"] = (f"judge kappa {shown} on {measured.n} labelled answers is below "
                               f"{KAPPA_FLOOR}: its verdicts here are not trustworthy")
        return info


def apply(store: Any, run: Mapping[str, Any], rows: Iterable[dict],
          rubrics: list[Rubric] | None = None) -> tuple[list[dict], JudgedView]:
    """``rows`` (``Store.item_rows``) with the judge's verdicts laid over the rules' where the
    run is bound to a judge, and a ``decided_by`` on every scored row."""
    rows = list(rows)
    view = JudgedView(binding=_binding(store, run["id"]))
    snapshots = RunRecord.of(run).snapshot_by_id
    chosen: dict[int, tuple[Rubric, cache.VerdictKey]] = {}
    if view.binding is not None:
        rubrics = rubrics if rubrics is not None else load_all()
        b = view.binding
        view.audit = audit.measure(store, rows, snapshots, b.judge_id, b.format, rubrics)
        for index, row in enumerate(rows):
            snap = snapshots.get(row["subtask"])
            if snap is None or row["status"] != "done" or not row.get("scored"):
                continue
            rubric = choose(rubrics, row["subtask"], snap["scorer"], row.get("score_label"),
                            row.get("score_value"))
            if rubric is not None:
                chosen[index] = (rubric, cache.VerdictKey(
                    b.judge_id, b.format, rubric.id, rubric.version, "", row["item_hash"],
                    row["response_key"]))
    found = cache.verdicts(store, (key for _, key in chosen.values())) if chosen else {}
    out = []
    for index, row in enumerate(rows):
        snap = snapshots.get(row["subtask"], {})
        if row["status"] != "done" or not row.get("scored"):
            out.append(row)
            continue
        decided = rule_name(snap)
        if index in chosen:
            rubric, key = chosen[index]
            verdict = found.get(key)
            view.rubrics.setdefault(row["subtask"], rubric)
            if verdict is not None and verdict.label is not None:
                value = rubric.value(verdict.label, snap)
                decided = judge_name(view.binding.judge_id, rubric)
                row = dict(row, rule_label=row.get("score_label"), rule_reason=row.get("score_reason"),
                           score_value=value, score_label=verdict.label,
                           score_reason=f"judge {short_id(view.binding.judge_id)} ({rubric.key}): {verdict.reason}")
        row = dict(row, decided_by=decided)
        view.decided_by.setdefault(row["subtask"], Counter())[decided] += 1
        out.append(row)
    return out, view


def _binding(store: Any, run_id: int) -> cache.Binding | None:
    try:
        return cache.binding(store, run_id)
    except Exception as exc:  # noqa: BLE001 - a store from before _m4 opened read-only has no table
        if "no such table" in str(exc):
            return None
        raise


def annotate(store: Any, card: Any, view: JudgedView) -> None:
    """Put who decided each sub-task's verdicts, the judge's measured agreement with its
    warning, and its agreement with the rules on the audited answers into the sub-tasks' extras
    (which every reader of a scorecard prints)."""
    if view.binding is None:
        return
    audited = (view.audit or {}).get("by_subtask", {})
    for sub in card.subtasks:
        counts = view.decided_by.get(sub.id)
        if not counts:
            continue
        sub.extras["decided_by"] = dict(sorted(counts.items()))
        if sub.id in audited:
            sub.extras["judge_audit"] = dict(audited[sub.id], judge=short_id(view.binding.judge_id),
                                             kappa_min_n=audit.MIN_SUBTASK_N)
        rubric = view.rubrics.get(sub.id)
        if rubric is not None and any(name.startswith("judge:") for name in counts):
            sub.extras["judge"] = view.agreement(store, rubric)


def audit_summary(store: Any, run_ref: int | str) -> dict[str, Any] | None:
    """The run's judge-vs-rules agreement (audit.measure's dict: n, agree, kappa, unreadable,
    by_subtask) with the judge it is of, or None when the run has no judge or no audit."""
    run = store.run(run_ref)
    _, view = apply(store, run, store.item_rows(run["id"]))
    if view.binding is None or view.audit is None:
        return None
    b = view.binding
    return dict(view.audit, judge=short_id(b.judge_id), judge_name=b.judge_name, format=b.format)


def decided_note(extras: Mapping[str, Any]) -> str | None:
    """"decided by rules 90%, judge abc123 (refusal@1) 10%" and the judge's agreement; where
    the judge decided nothing but audited some of the rules' verdicts, that agreement alone;
    None when the judge neither decided nor audited anything in the sub-task."""
    counts = extras.get("decided_by") or {}
    judged = {k: v for k, v in counts.items() if k.startswith("judge:")}
    if not judged:
        return audit_note(extras)
    total = sum(counts.values()) or 1
    parts = []
    rules = sum(v for k, v in counts.items() if k.startswith("rule:"))
    if rules:
        parts.append(f"rules {100 * rules / total:.0f}%")
    for name, n in sorted(judged.items()):
        _, sha, rubric = name.split(":", 2)
        parts.append(f"judge {sha} ({rubric}) {100 * n / total:.0f}% ({n})")
    note = "decided by " + ", ".join(parts)
    judge = extras.get("judge") or {}
    if judge.get("kappa_binary") is not None:
        note += f"; judge kappa {judge['kappa_binary']:.2f} on {judge.get('n')} labelled answers"
    audited = audit_note(extras)
    if audited:
        note += f"; {audited}"
    if judge.get("warning"):
        note += f"; warning: {judge['warning']}"
    return note


def audit_note(extras: Mapping[str, Any]) -> str | None:
    """"judge vs rules: agree 5 of 6" (and the kappa once there are enough pairs), or None."""
    audited = extras.get("judge_audit") or {}
    if not audited.get("n"):
        return None
    agreed = round(audited["agree"] * audited["n"])
    text = f"judge vs rules: agree {agreed} of {audited['n']} audited"
    if audited.get("kappa") is not None:
        text += f", kappa {audited['kappa']:.2f}"
    return text
