"""Reviewed verdicts: a person marks a verdict wrong and sets the right one, with a note.

"Your detector is wrong on item 17." An override is stored apart from answers and scores, keyed to
the item (its hash), the exact answer (sha256 of its text) and the scorer + version whose verdict it
replaces. So it never carries over silently: a different answer (another model, a rerun with other
settings) or a changed scorer (a rescore after a version bump) is not covered by it. A scorecard is
shown with and without overrides, and the count of overridden verdicts; overrides export to JSON
Lines and import elsewhere, so a review can be shared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from trust_tui.engine.run.records import RunRecord
from trust_tui.engine.run.store import Store, now, sha256_text
from trust_tui.errors import TrustError

FIELDS = ("item_hash", "answer_sha256", "scorer", "scorer_version", "subtask", "item_id", "value",
          "label", "note", "author", "created")


@dataclass(frozen=True)
class Override:
    item_hash: str
    answer_sha256: str
    scorer: str
    scorer_version: int
    subtask: str
    item_id: str
    value: float | None
    label: str
    note: str
    author: str = ""
    created: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


def _row_for(store: Store, run: Mapping[str, Any], uid: str) -> dict:
    for row in store.item_rows(run["id"]):
        if row["uid"] == uid or row["uid"].endswith(f"/{uid}") or row["uid"].split(":", 1)[-1] == uid:
            if row["status"] != "done" or row.get("answer") is None:
                raise TrustError(f"run {run['id']}: item {row['uid']} has no answer to review")
            return row
    raise TrustError(f"run {run['id']}: no item {uid!r} (see `trust-tui items {run['id']}`)")


def _scorer_of(run: Mapping[str, Any], subtask: str) -> tuple[str, int]:
    snap = RunRecord.of(run).snapshot_by_id[subtask]
    return snap["scorer"], int(snap["scorer_version"])


def set_override(store: Store, run_ref: int | str, uid: str, value: float | None, label: str = "",
                 note: str = "", author: str = "") -> Override:
    """Override the verdict of item ``uid`` (a uid, or an item id unique in the run) of a run."""
    run = store.run(run_ref)
    row = _row_for(store, run, uid)
    scorer, version = _scorer_of(run, row["subtask"])
    if value is not None and not 0.0 <= float(value) <= 1.0:
        raise TrustError(f"an overridden score lies in [0, 1], got {value}")
    override = Override(item_hash=row["item_hash"], answer_sha256=sha256_text(row["answer"]), scorer=scorer,
                        scorer_version=version, subtask=row["subtask"], item_id=row["item_id"],
                        value=None if value is None else float(value), label=label or "reviewed",
                        note=note.strip(), author=author, created=now())
    save(store, [override])
    return override


def save(store: Store, overrides: Iterable[Override]) -> int:
    count = 0
    with store.transaction():
        for override in overrides:
            store.db["overrides"].upsert(override.as_dict(), pk=("item_hash", "answer_sha256", "scorer",
                                                                 "scorer_version"))
            count += 1
    return count


def remove(store: Store, run_ref: int | str, uid: str) -> bool:
    run = store.run(run_ref)
    row = _row_for(store, run, uid)
    scorer, version = _scorer_of(run, row["subtask"])
    with store.transaction():
        cursor = store.db.execute(
            "delete from overrides where item_hash = ? and answer_sha256 = ? and scorer = ? and scorer_version = ?",
            [row["item_hash"], sha256_text(row["answer"]), scorer, version])
    return cursor.rowcount > 0


def _all(store: Store) -> dict[tuple, Override]:
    out = {}
    for row in store.db.query("select * from overrides"):
        override = Override(**{name: row[name] for name in FIELDS})
        out[(override.item_hash, override.answer_sha256, override.scorer, override.scorer_version)] = override
    return out


def apply(store: Store, run: Mapping[str, Any], rows: Iterable[dict]) -> tuple[list[dict], int]:
    """The rows with reviewed verdicts in place of the scorer's (marked ``overridden``), and how
    many were replaced. Only an override of this very answer, item and scorer version applies."""
    table = _all(store)
    versions = {sub_id: (scorer, int(version)) for sub_id, (scorer, version) in RunRecord.of(run).scorer_versions.items()}
    out, count = [], 0
    for row in rows:
        override = None
        if table and row.get("status") == "done" and row.get("answer") is not None:
            scorer, version = versions.get(row["subtask"], (None, None))
            override = table.get((row["item_hash"], sha256_text(row["answer"]), scorer, version))
        if override is None:
            out.append(row)
            continue
        count += 1
        out.append(dict(row, score_value=override.value, score_label=override.label,
                        score_reason=f"reviewed: {override.note or 'no note'} (was: {row.get('score_reason') or '-'})",
                        scored=True, overridden=True,
                        original_score=(row.get("score_value"), row.get("score_label"))))
    return out, count


def for_run(store: Store, run_ref: int | str) -> list[dict]:
    """The overrides that apply to a run, with the item and the verdict they replace."""
    run = store.run(run_ref)
    rows, _ = apply(store, run, store.item_rows(run["id"]))
    return [{"uid": r["uid"], "was": r["original_score"], "now": (r["score_value"], r["score_label"]),
             "note": r["score_reason"]} for r in rows if r.get("overridden")]


def export_jsonl(store: Store, path: str | Path) -> int:
    rows = sorted(_all(store).values(), key=lambda o: (o.subtask, o.item_id, o.created))
    Path(path).write_text("".join(json.dumps(o.as_dict(), ensure_ascii=False) + "\n" for o in rows),
                          encoding="utf-8")
    return len(rows)


def import_jsonl(store: Store, path: str | Path) -> int:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrustError(f"{path}: cannot read ({exc.strerror or exc})") from None
    overrides = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            overrides.append(Override(**{name: data[name] for name in FIELDS if name in data}))
        except (json.JSONDecodeError, TypeError) as exc:
            raise TrustError(f"{path}:{number}: not an override record ({exc})") from None
    return save(store, overrides)
