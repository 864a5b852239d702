"""Judging a run: which of its answers the judge reads, from cache where it can, and the one
binding that tells the run's scorecard whose verdicts to show.

The judge reads a stored answer when a rubric reads its sub-task and decides the rules' verdict
(``rubrics.choose``: every ``uncertain`` verdict, and the verdicts listed under a rubric's
``decides``). Rules keep everything else. Beside those, it reads an audit sample of answers the
rules decided (``audit``), whose verdicts measure its agreement with the rules and replace
nothing. Nothing here generates an answer: a run's answers are read from the store, so
``trust-tui judge RUN`` works on any finished or interrupted run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from trust_tui.engine.judge import audit as audit_sample, cache
from trust_tui.engine.judge.engine import Judge, JudgeTask
from trust_tui.engine.judge.rubrics import Rubric, choose, load_all
from trust_tui.engine.scorers.text import clean
from trust_tui.engine.run.records import item_of
from trust_tui.engine.run.store import Store


@dataclass
class JudgeOutcome:
    run_id: int
    candidates: int = 0  # answers a rubric decides, whatever this judge's format can read
    judged: int = 0  # verdicts the judge produced now
    cached: int = 0  # verdicts already in the store
    unreadable: int = 0  # judged, but the output gave no label (the rules' verdict stands)
    not_supported: int = 0  # the judge's format cannot read the rubric (classifiers)
    skipped: int = 0  # the prompt did not fit the judge's context
    audited: int = 0  # rule-decided answers in the audit sample (judged now or cached)
    seconds: float = 0.0
    load_seconds: float = 0.0
    by_rubric: dict[str, int] = field(default_factory=dict)
    agreement: dict[str, Any] | None = None  # judge vs rules on the run (audit.measure)
    judge: str = ""  # the judge's label (name, format, id; the server it ran on)
    warning: str = ""  # what the user must know about the judge (e.g. a server it could not identify)

    def summary_line(self) -> str:
        parts = [f"judged {self.judged}", f"cached {self.cached}"]
        if self.audited:
            parts.append(f"audit {self.audited}")
        if self.unreadable:
            parts.append(f"unreadable {self.unreadable}")
        if self.not_supported:
            parts.append(f"not readable by this judge's format {self.not_supported}")
        if self.skipped:
            parts.append(f"too long {self.skipped}")
        return "judge: " + " · ".join(parts) + f" · {self.seconds:.1f} s"


def _rows(store: Store, run_id: int) -> Iterator[tuple[dict, Mapping[str, Any]]]:
    run = store.run(run_id)
    snapshots = run.snapshot_by_id
    for row in store.item_rows(run_id):
        if row["status"] == "done" and row.get("scored") and row["subtask"] in snapshots:
            yield row, snapshots[row["subtask"]]


def plan(store: Store, run_id: int, engine: Judge, rubrics: list[Rubric],
         outcome: JudgeOutcome, audit: int = audit_sample.DEFAULT_AUDIT) -> list[JudgeTask]:
    """The tasks of a run's answers that a rubric decides and this judge's format can read,
    then the audit sample of ``audit`` rule-decided answers (``task.extra["audit"]``)."""
    tasks: list[JudgeTask] = []
    seen: set[tuple] = set()
    auditable: list[tuple[str, str, JudgeTask]] = []
    for row, snap in _rows(store, run_id):
        rubric = choose(rubrics, row["subtask"], snap["scorer"], row["score_label"], row["score_value"])
        if rubric is None:
            audit_rubric = audit_sample.auditable(row, snap, rubrics) if audit > 0 else None
            if audit_rubric is not None:
                task = _task(engine, audit_rubric, row, snap)
                if task is not None:
                    task.extra["audit"] = True
                    auditable.append((row["subtask"], audit_sample.side(float(row["score_value"])), task))
            continue  # the rules keep it
        if not clean(row.get("answer") or ""):
            continue  # an empty answer is unparseable to any reader
        outcome.candidates += 1
        task = _task(engine, rubric, row, snap)
        if task is None:
            outcome.not_supported += 1
            continue
        if task.key in seen:
            continue  # the same item and answer twice in a run is read once
        seen.add(task.key)
        outcome.by_rubric[rubric.key] = outcome.by_rubric.get(rubric.key, 0) + 1
        tasks.append(task)
    for task in audit_sample.select(auditable, audit):
        if task.key not in seen:
            seen.add(task.key)
            outcome.audited += 1
            tasks.append(task)
    return tasks


def _task(engine: Judge, rubric: Rubric, row: Mapping[str, Any], snap: Mapping[str, Any]) -> JudgeTask | None:
    item = item_of(row)
    return engine.task(rubric, snap, _prompt_text(item), row["answer"], item, row["item_hash"],
                       row["response_key"], uid=row["uid"])


def _prompt_text(item: Mapping[str, Any]) -> str:
    for message in reversed(item.get("messages") or []):
        if message.get("role") == "user":
            return message.get("content", "")
    return ""


def run_tasks(store: Store, engine: Judge, tasks: list[JudgeTask], outcome: JudgeOutcome,
              cancel: threading.Event | None = None, on_stage: Callable[[str], None] | None = None,
              on_verdict: Callable[[JudgeTask, cache.Verdict | None], None] | None = None) -> None:
    """Judge the tasks that have no stored verdict, storing each as it finishes; loads the judge
    only when there is something to judge."""
    stored = cache.verdicts(store, (t.key for t in tasks))
    outcome.cached += len(stored)
    for task in tasks:
        if task.key in stored and on_verdict is not None:
            on_verdict(task, stored[task.key])
        if task.key in stored and stored[task.key].label is None:
            outcome.unreadable += 1
    todo = [t for t in tasks if t.key not in stored]
    if not todo:
        return
    engine.load(todo, on_stage=on_stage)
    outcome.load_seconds += engine.load_seconds
    if on_stage is not None:
        on_stage(f"judging {len(todo)} answers")
    for task, verdict, error in engine.judge(todo, cancel):
        if verdict is None:
            outcome.skipped += 1
        else:
            cache.save(store, verdict)
            outcome.judged += 1
            if verdict.label is None:
                outcome.unreadable += 1
        if on_verdict is not None:
            on_verdict(task, verdict)


def judge_run(store: Store, run_ref: int | str, engine: Judge,
              cancel: threading.Event | None = None, loading: str = "after",
              on_stage: Callable[[str], None] | None = None,
              rubrics: list[Rubric] | None = None,
              audit: int = audit_sample.DEFAULT_AUDIT) -> JudgeOutcome:
    """Judge a run's stored answers where its rules leave the verdict to a judge, and an audit
    sample of ``audit`` answers they decided; bind the run to this judge. A second call judges
    nothing."""
    started = time.perf_counter()
    run = store.run(run_ref)
    rubrics = rubrics if rubrics is not None else load_all()
    outcome = JudgeOutcome(run["id"], judge=engine.label, warning=engine.warning)
    tasks = plan(store, run["id"], engine, rubrics, outcome, audit=audit)
    run_tasks(store, engine, tasks, outcome, cancel, on_stage)
    outcome.seconds = time.perf_counter() - started
    previous = cache.binding(store, run["id"])
    spent = outcome.seconds if outcome.judged else (previous.seconds if previous else 0.0)
    cache.bind(store, cache.Binding(
        run["id"], engine.judge_id, engine.display_name, engine.format_name,
        tuple(sorted({r.key for r in rubrics})), loading, spent))
    snapshots = run.snapshot_by_id
    outcome.agreement = audit_sample.measure(store, store.item_rows(run["id"]), snapshots,
                                             engine.judge_id, engine.format_name, rubrics)
    return outcome
