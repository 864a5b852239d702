"""judge-check: a judge's agreement with people, measured before a scorecard trusts it.

The judge reads the hand-labelled refusal corpus (tests/corpus/refusal/*.jsonl: 832 answers in
nine languages, labelled refused / partial / complied; the held-out folder is never read) under
the refusal rubric, exactly as it reads a run's answers, and Cohen's kappa against the labels is
reported per sub-task family and per language: three-class, and binary (refused + partial
against complied, what a refuse-to-answer rate counts; the kappa floor is checked on this one).
Verdicts are cached like a run's, so a second check judges nothing. With ``reask`` the judge
reads every answer a second time with the labels listed in another order, and the share of
unchanged verdicts is its self-consistency.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from trust_tui.engine.judge import cache
from trust_tui.engine.judge.engine import Judge
from trust_tui.engine.score.stats import cohen_kappa  # noqa: F401  (calibration reports it; tests read it here)
from trust_tui.engine.judge.judging import JudgeOutcome, run_tasks
from trust_tui.engine.judge.rubrics import Rubric, load_all
from trust_tui.engine.run.store import Store, canonical_json, sha256_text
from trust_tui.errors import TrustError

UNREADABLE = "unreadable"  # the judge's output gave no label: a disagreement, never left out


def binary(label: str) -> str:
    return "complied" if label == "complied" else ("refused" if label in ("refused", "partial") else label)


def default_corpus() -> Path | None:
    """tests/corpus/refusal of a source checkout (the corpus is not shipped in the wheel)."""
    import trust_tui

    for base in (Path.cwd(), Path(trust_tui.__file__).resolve().parents[1]):
        folder = base / "tests" / "corpus" / "refusal"
        if folder.is_dir():
            return folder
    return None


def load_corpus(folder: Path) -> list[dict]:
    """The records of ``folder/*.jsonl`` (not its subfolders: heldout/ stays unread)."""
    records = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrustError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not {"id", "lang", "subtask", "prompt", "answer", "label"} <= set(record):
                raise TrustError(f"{path}:{number}: a corpus record needs id, lang, subtask, "
                                 "prompt, answer and label")
            records.append(record)
    if not records:
        raise TrustError(f"{folder}: no labelled answers (*.jsonl) found")
    return records


def sample(records: list[dict], n: int | None) -> list[dict]:
    """``n`` records spread over the corpus (by a hash of their id: reproducible), or all."""
    if not n or n >= len(records):
        return records
    return sorted(records, key=lambda r: zlib.crc32(r["id"].encode("utf-8")))[:n]


@dataclass
class Group:
    gold: list[str] = field(default_factory=list)
    got: list[str] = field(default_factory=list)

    def add(self, gold: str, got: str) -> None:
        self.gold.append(gold)
        self.got.append(got)

    def row(self) -> dict:
        n = len(self.gold)
        return {
            "n": n,
            "kappa": cohen_kappa(self.gold, self.got),
            "kappa_binary": cohen_kappa([binary(g) for g in self.gold], [binary(g) for g in self.got]),
            "accuracy": sum(a == b for a, b in zip(self.gold, self.got)) / n if n else None,
            "unreadable": sum(g == UNREADABLE for g in self.got),
        }


@dataclass
class CheckResult:
    judge: str
    format: str
    rubric: str
    corpus: str
    overall: dict
    by_family: dict[str, dict]
    by_language: dict[str, dict]
    not_supported: int
    outcome: JudgeOutcome
    self_consistency: dict | None = None


def _snapshot(record: dict) -> dict:
    # As trust-core scores the sub-task: exaggerated safety counts compliance as the good outcome.
    options = {"positive": "complied"} if record["subtask"] == "safety/exaggerated_safety" else {}
    return {"id": record["subtask"], "scorer": "refusal", "scorer_options": options,
            "direction": "higher", "description": ""}


def check(store: Store, engine: Judge, folder: Path, limit: int | None = None,
          reask: bool = False, cancel: threading.Event | None = None,
          on_stage: Callable[[str], None] | None = None, rubric: Rubric | None = None) -> CheckResult:
    started = time.perf_counter()
    records = sample(load_corpus(folder), limit)
    rubric = rubric or next(r for r in load_all() if r.id == "refusal")
    outcome = JudgeOutcome(0)
    tasks, gold = [], {}
    for variant in ("", "reask") if reask else ("",):
        for record in records:
            item = {"prompt": record["prompt"], "subtask": record["subtask"]}
            item_hash = sha256_text(canonical_json({"corpus": record["id"], **item}))[:32]
            task = engine.task(rubric, _snapshot(record), record["prompt"], record["answer"], item,
                               item_hash, sha256_text(record["answer"]), uid=record["id"],
                               variant=variant)
            if task is None:
                outcome.not_supported += variant == ""
                continue
            task.extra["record"] = record
            tasks.append(task)
            gold[record["id"]] = record["label"]
    got: dict[tuple[str, str], str] = {}

    def collect(task, verdict) -> None:
        label = verdict.label if verdict is not None and verdict.label else UNREADABLE
        got[(task.uid, task.key.variant)] = label

    run_tasks(store, engine, tasks, outcome, cancel, on_stage, on_verdict=collect)
    outcome.seconds = time.perf_counter() - started
    overall, families, languages = Group(), defaultdict(Group), defaultdict(Group)
    for task in tasks:
        if task.key.variant or (task.uid, "") not in got:
            continue
        record = task.extra["record"]
        label = got[(task.uid, "")]
        for group in (overall, families[record["subtask"]], languages[record["lang"]]):
            group.add(record["label"], label)
    consistency = None
    if reask:
        pairs = [(got[(uid, "")], got[(uid, "reask")]) for uid, v in got if v == "reask" and (uid, "") in got]
        if pairs:
            consistency = {"n": len(pairs), "same": sum(a == b for a, b in pairs) / len(pairs),
                           "kappa": cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])}
    corpus_key = sha256_text(canonical_json(sorted(r["id"] for r in records)))[:16]
    result = CheckResult(
        judge=engine.judge_id, format=engine.format_name, rubric=rubric.key, corpus=corpus_key,
        overall=overall.row(), by_family={k: g.row() for k, g in sorted(families.items())},
        by_language={k: g.row() for k, g in sorted(languages.items())},
        not_supported=outcome.not_supported, outcome=outcome, self_consistency=consistency)
    if overall.gold:
        cache.save_calibration(store, cache.Calibration(
            engine.judge_id, engine.format_name, rubric.id, rubric.version, corpus_key,
            result.overall["n"], result.overall["kappa"], result.overall["kappa_binary"],
            {"families": result.by_family, "languages": result.by_language,
             "self_consistency": consistency, "folder": str(folder)}))
    return result
