"""The judge's tables in the store (created by ``store._m4``): verdicts, run bindings, and the
agreement each judge measured on the labelled corpus. Every write is its own short transaction,
so a killed judging pass keeps every verdict it finished and resumes from there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from trust_tui.engine.run.store import Store, canonical_json, now

VERDICT_PK = ("judge_id", "format", "rubric", "rubric_version", "variant", "item_hash", "response_key")


@dataclass(frozen=True)
class VerdictKey:
    """What a verdict depends on: the judge (file sha256, format), the rubric (id, version, and
    the variant of its prompt: "" or "reask"), the item and the answer."""

    judge_id: str
    format: str
    rubric: str
    rubric_version: int
    variant: str
    item_hash: str
    response_key: str

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in VERDICT_PK}


@dataclass(frozen=True)
class Verdict:
    key: VerdictKey
    label: str | None  # a rubric label, or None when the judge's output could not be read
    reason: str
    raw: str


@dataclass(frozen=True)
class Binding:
    """The judge a run's scorecard reads its judged verdicts from."""

    run_id: int
    judge_id: str
    judge_name: str
    format: str
    rubrics: tuple[str, ...]
    loading: str
    seconds: float


@dataclass(frozen=True)
class Calibration:
    judge_id: str
    format: str
    rubric: str
    rubric_version: int
    corpus: str
    n: int
    kappa: float | None
    kappa_binary: float | None
    table: dict[str, Any]


def verdicts(store: Store, keys: Iterable[VerdictKey]) -> dict[VerdictKey, Verdict]:
    """The stored verdicts among ``keys`` (one query per judge, format and rubric)."""
    groups: dict[tuple, list[VerdictKey]] = {}
    for key in keys:
        groups.setdefault((key.judge_id, key.format, key.rubric, key.rubric_version, key.variant),
                          []).append(key)
    found: dict[VerdictKey, Verdict] = {}
    for (judge_id, fmt, rubric, version, variant), members in groups.items():
        wanted = {(k.item_hash, k.response_key): k for k in members}
        for row in store.db.query(
                "select item_hash, response_key, label, reason, raw from judge_verdicts "
                "where judge_id = ? and format = ? and rubric = ? and rubric_version = ? and variant = ?",
                [judge_id, fmt, rubric, version, variant]):
            key = wanted.get((row["item_hash"], row["response_key"]))
            if key is not None:
                found[key] = Verdict(key, row["label"], row["reason"] or "", row["raw"] or "")
    return found


def save(store: Store, verdict: Verdict) -> None:
    with store.transaction():
        store.db["judge_verdicts"].insert(
            dict(verdict.key.row(), label=verdict.label, reason=verdict.reason, raw=verdict.raw,
                 created=now()), pk=VERDICT_PK, replace=True)


def bind(store: Store, binding: Binding) -> None:
    with store.transaction():
        store.db["run_judges"].insert({
            "run_id": binding.run_id, "judge_id": binding.judge_id,
            "judge_name": binding.judge_name, "format": binding.format,
            "rubrics": canonical_json(list(binding.rubrics)), "loading": binding.loading,
            "seconds": binding.seconds, "updated": now(),
        }, pk="run_id", replace=True)


def binding(store: Store, run_id: int) -> Binding | None:
    row = store.db.execute(
        "select run_id, judge_id, judge_name, format, rubrics, loading, seconds from run_judges "
        "where run_id = ?", [run_id]).fetchone()
    if row is None:
        return None
    return Binding(row[0], row[1], row[2] or "", row[3], tuple(json.loads(row[4] or "[]")),
                   row[5] or "", float(row[6] or 0.0))


def save_calibration(store: Store, calibration: Calibration) -> None:
    with store.transaction():
        store.db["judge_calibrations"].insert({
            "judge_id": calibration.judge_id, "format": calibration.format,
            "rubric": calibration.rubric, "rubric_version": calibration.rubric_version,
            "corpus": calibration.corpus, "n": calibration.n, "kappa": calibration.kappa,
            "kappa_binary": calibration.kappa_binary,
            "table": canonical_json(calibration.table), "created": now(),
        }, pk=("judge_id", "format", "rubric", "rubric_version", "corpus"), replace=True)


def calibration(store: Store, judge_id: str, fmt: str, rubric: str,
                rubric_version: int) -> Calibration | None:
    """The judge's most recent measurement for this rubric version, the largest sample first
    when several were taken the same way."""
    row = store.db.execute(
        "select judge_id, format, rubric, rubric_version, corpus, n, kappa, kappa_binary, \"table\" "
        "from judge_calibrations where judge_id = ? and format = ? and rubric = ? "
        "and rubric_version = ? order by n desc, created desc limit 1",
        [judge_id, fmt, rubric, rubric_version]).fetchone()
    if row is None:
        return None
    return Calibration(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                       json.loads(row[8] or "{}"))
