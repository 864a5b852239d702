"""The SQLite store: the log of every run, the answer cache, and the scores.

One writer (the run loop) writes; the CLI, the app and the exporters read. WAL mode, so readers
never block the writer. Each finished item is committed in its own short transaction, so a kill
loses at most the items in flight. Schema changes live in ``MIGRATIONS`` and are applied on open.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import sqlite_utils

from trust_tui import paths
from trust_tui.engine.types import GenSettings, Response, Score
from trust_tui.engine.run.records import ComparisonRecord, ItemRow, RunRecord, decoded
from trust_tui.engine.run.store_sql import Transaction, connect_read_only, store_error, writable
from trust_tui.errors import RunNotFound, StoreError

# Bump when the fields of a response cache key change (see response_key).
KEY_VERSION = 1


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def response_key(model_id: str, prompt: str, settings: GenSettings) -> str:
    """The cache key of an answer: exactly these named fields, nothing else."""
    return sha256_text(canonical_json({
        "key_version": KEY_VERSION,
        "model": model_id,
        "prompt": prompt,
        "settings": settings.key_fields(),
    }))


def now() -> float:
    return time.time()


def _m1(db: sqlite_utils.Database) -> None:
    db["file_hashes"].create(
        {"path": str, "size": int, "mtime_ns": int, "sha256": str, "hashed_at": float},
        pk="path",
    )
    db["models"].create({
        "sha256": str, "file_name": str, "path": str, "size": int, "architecture": str,
        "name": str, "parameters": int, "file_type": str, "context_length": int,
        "has_chat_template": int, "tensor_mix": str, "first_seen": float, "last_seen": float,
    }, pk="sha256")
    db["runs"].create({
        "id": int, "spec_hash": str, "spec": str, "model_id": str, "model_path": str,
        "model_name": str, "bundle": str, "bundle_version": str, "bundle_hash": str,
        "profile": str, "dimensions": str, "subtasks": str, "backend": str, "context": str,
        "template_source": str, "template_warning": str, "comparability_hash": str,
        "status": str, "error": str, "started": float, "finished": float, "total": int,
        "generated": int, "cached": int, "skipped": int, "tokens_generated": int,
        "tokens_prompt": int, "gen_seconds": float, "wall_seconds": float,
    }, pk="id")
    db["runs"].create_index(["spec_hash"])
    db["runs"].create_index(["model_id"])
    db["responses"].create({
        "key": str, "model_id": str, "prompt": str, "settings": str, "text": str,
        "prompt_tokens": int, "completion_tokens": int, "finish_reason": str,
        "ttft_s": float, "gen_s": float, "created": float,
    }, pk="key")
    db["run_items"].create({
        "run_id": int, "uid": str, "subtask": str, "item_id": str, "position": int,
        "item": str, "item_hash": str, "response_key": str, "status": str, "reason": str,
        "cached": int, "updated": float,
    }, pk=("run_id", "uid"))
    db["run_items"].create_index(["response_key"])
    db["scores"].create({
        "response_key": str, "item_hash": str, "scorer": str, "scorer_version": int,
        "value": float, "label": str, "reason": str, "created": float,
    }, pk=("response_key", "item_hash", "scorer", "scorer_version"))


def _m2(db: sqlite_utils.Database) -> None:
    # A comparison record names its runs and keeps only what the store cannot recompute: what
    # was measured by running the models (next-token agreement, speed; agreement.py). Every
    # score, delta and p-value is recomputed from the runs' stored answers and scores.
    db["comparisons"].create({
        "id": int, "created": float, "run_ids": str, "reference_run": int, "forced": int,
        "comparability": str, "options": str, "measurements": str,
    }, pk="id")


def _m3(db: sqlite_utils.Database) -> None:
    # Which process runs a run ("host:pid"): a "running" row whose process is gone was
    # interrupted (kill -9, power cut, an app quit mid-batch) and is shown so.
    db["runs"].add_column("owner", str)


def _m4(db: sqlite_utils.Database) -> None:
    # The judge (trust_tui/engine/judge): a verdict is keyed like an answer, by what produced it
    # (judge file sha256, its format, rubric id + version) and what it read (item, answer), so a
    # judged rerun judges nothing. run_judges binds a run to the judge whose verdicts it shows;
    # judge_calibrations keeps each judge's measured agreement with the labelled corpus.
    db["judge_verdicts"].create({
        "judge_id": str, "format": str, "rubric": str, "rubric_version": int, "variant": str,
        "item_hash": str, "response_key": str, "label": str, "reason": str, "raw": str,
        "created": float,
    }, pk=("judge_id", "format", "rubric", "rubric_version", "variant", "item_hash", "response_key"))
    db["run_judges"].create({
        "run_id": int, "judge_id": str, "judge_name": str, "format": str, "rubrics": str,
        "loading": str, "seconds": float, "updated": float,
    }, pk="run_id")
    db["judge_calibrations"].create({
        "judge_id": str, "format": str, "rubric": str, "rubric_version": int, "corpus": str,
        "n": int, "kappa": float, "kappa_binary": float, "table": str, "created": float,
    }, pk=("judge_id", "format", "rubric", "rubric_version", "corpus"))


def _m5(db: sqlite_utils.Database) -> None:
    # A reviewer's verdict on one answer (engine/score/overrides.py), kept apart from answers and scores
    # and keyed to the item, the answer's hash and the scorer version it overrides, so an
    # override never carries over to a different answer or a rescored verdict silently.
    db["overrides"].create({
        "item_hash": str, "answer_sha256": str, "scorer": str, "scorer_version": int,
        "subtask": str, "item_id": str, "value": float, "label": str, "note": str,
        "author": str, "created": float,
    }, pk=("item_hash", "answer_sha256", "scorer", "scorer_version"))
    # Determinism checks of a run (engine/run/recheck.py): what was asked again and what changed.
    db["rechecks"].create({
        "id": int, "run_id": int, "created": float, "sample": int, "result": str,
    }, pk="id")
    db["rechecks"].create_index(["run_id"])


MIGRATIONS = [_m1, _m2, _m3, _m4, _m5]


def run_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    """False only when the owner is a process of this host that no longer exists."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's run (a shared store), or a row from before _m3
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class Store:
    """Open (and migrate) the store. Open it in the thread that uses it."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else paths.db_path()
        # A store the user may read but not write (a shared folder, a backup) opens read-only:
        # runs, report and export work; a write says "read-only" in one line.
        self.read_only = self.path.is_file() and not writable(self.path)
        self.opening = True  # a write that fails now failed to create the store, not a run's item
        try:
            if self.read_only:
                conn = connect_read_only(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self._pragmas()
            self._migrate()
        except StoreError:
            raise
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc, opening=True) from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise store_error(self.path, exc, opening=True) from None
            raise StoreError(f"{self.path}: cannot create the store ({exc.strerror or exc})") from None
        finally:
            self.opening = False

    def _pragmas(self) -> None:
        if not self.read_only:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:
                pass  # a read-only directory cannot hold a WAL; reads still work
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def _version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        """Bring the schema up to date. Two processes opening a new store at once (the app and a
        CLI run on first launch) must not both create it: the version is read again once the
        write lock is held, and every missing migration runs under that one lock."""
        if self._version() >= len(MIGRATIONS):
            return  # the usual case: no write lock taken, so a read-only store opens too
        if self.read_only:
            raise StoreError(f"{self.path}: the store needs an upgrade but is read-only; "
                             "open it once with write access")
        with self.transaction():
            for index in range(self._version(), len(MIGRATIONS)):
                MIGRATIONS[index](self.db)
                self.db.execute(f"PRAGMA user_version={index + 1}")

    def close(self) -> None:
        self.db.conn.close()

    # ------------------------------------------------------------------ transactions

    def transaction(self) -> Transaction:
        return Transaction(self)

    # ------------------------------------------------------------------ models

    def cached_hash(self, path: Path, size: int, mtime_ns: int) -> str | None:
        row = self.db.execute(
            "select sha256 from file_hashes where path = ? and size = ? and mtime_ns = ?",
            [str(path), size, mtime_ns],
        ).fetchone()
        return row[0] if row else None

    def remember_hash(self, path: Path, size: int, mtime_ns: int, sha256: str) -> None:
        with self.transaction():
            self.db["file_hashes"].upsert(
                {"path": str(path), "size": size, "mtime_ns": mtime_ns, "sha256": sha256,
                 "hashed_at": now()}, pk="path")

    def upsert_model(self, record: Mapping[str, Any]) -> None:
        with self.transaction():
            existing = self.db.execute(
                "select first_seen from models where sha256 = ?", [record["sha256"]]).fetchone()
            row = dict(record, last_seen=now(), first_seen=existing[0] if existing else now())
            self.db["models"].upsert(row, pk="sha256")

    def model(self, sha256: str) -> dict | None:
        rows = list(self.db.query("select * from models where sha256 = ?", [sha256]))
        return rows[0] if rows else None

    def models(self, limit: int = 100) -> list[dict]:
        """The fingerprinted model files, the most recently seen first."""
        return list(self.db.query("select * from models order by last_seen desc limit ?", [limit]))

    # ------------------------------------------------------------------ runs

    def find_resumable(self, spec_hash: str) -> RunRecord | None:
        rows = list(self.db.query(
            "select * from runs where spec_hash = ? and status != 'finished' order by id desc limit 1",
            [spec_hash]))
        return RunRecord.from_row(rows[0]) if rows else None

    def create_run(self, record: Mapping[str, Any]) -> int:
        with self.transaction():
            table = self.db["runs"]
            table.insert(dict(record))
            return table.last_pk

    def update_run(self, run_id: int, **fields: Any) -> None:
        with self.transaction():
            self.db["runs"].update(run_id, fields)

    def _by_ref(self, table: str, ref: int | str, noun: str, none_yet: str, listed_by: str) -> dict:
        """The row of ``table`` that ``ref`` names: "latest" or an id (runs and comparisons)."""
        if str(ref) == "latest":
            rows = list(self.db.query(f"select * from {table} order by id desc limit 1"))
            if not rows:
                raise RunNotFound(f"no {table} yet: {none_yet}")
            return rows[0]
        try:
            row_id = int(ref)
        except (TypeError, ValueError):
            raise RunNotFound(f"{noun} id must be a number or 'latest', got {ref!r}") from None
        rows = list(self.db.query(f"select * from {table} where id = ?", [row_id]))
        if not rows:
            raise RunNotFound(f"no {noun} {row_id} (see `{listed_by}`)")
        return rows[0]

    def resolve_run(self, run_ref: int | str) -> int:
        """The id of the run ``run_ref`` names ("latest" or an id); RunNotFound otherwise."""
        return self._by_ref("runs", run_ref, "run", "start one with `trust-tui run`", "trust-tui runs")["id"]

    def run(self, run_ref: int | str) -> RunRecord:
        return self._live(self._by_ref("runs", run_ref, "run", "start one with `trust-tui run`",
                                       "trust-tui runs"))

    def runs(self, model_id: str | None = None, limit: int = 100) -> list[RunRecord]:
        if model_id:
            rows = self.db.query(
                "select * from runs where model_id = ? order by id desc limit ?", [model_id, limit])
        else:
            rows = self.db.query("select * from runs order by id desc limit ?", [limit])
        return [self._live(row) for row in rows]

    def _live(self, row: Mapping[str, Any]) -> RunRecord:
        """A "running" row whose process is gone becomes "interrupted", with the counters its
        committed items give (a run writes its counters only when it closes)."""
        run = RunRecord.from_row(row)
        if run.status != "running" or _owner_alive(run.owner):
            return run
        counts = self.db.execute(
            "select sum(status = 'done' and cached = 0), sum(status = 'done' and cached = 1), "
            "sum(status = 'skipped') from run_items where run_id = ?", [run.id]).fetchone()
        generated, cached, skipped = (value or 0 for value in counts)
        return run.replace(status="interrupted", generated=generated, cached=cached, skipped=skipped)

    def peer_runs(self, comparability_hash: str, run_id: int, model_id: str | None) -> list[dict]:
        """(id, model_id, model_name) of the finished runs of other models measured the same way
        (same comparability hash), newest first (compare/reference_runs.py)."""
        return list(self.db.query(
            "select id, model_id, model_name from runs where comparability_hash = ? and status = 'finished' "
            "and id != ? and coalesce(model_id, '') != coalesce(?, '') order by id desc",
            [comparability_hash, run_id, model_id]))

    def unparseable_counts(self, bundle: str, other_than: int) -> list[tuple[int, int, int]]:
        """(run id, done, unparseable) of the last 20 other finished runs of ``bundle``
        (run/health.py: an unreadable answer has no value and is not "uncertain")."""
        return self.db.execute(
            "select ri.run_id, sum(ri.status = 'done'), "
            "sum(ri.status = 'done' and s.value is null and coalesce(s.label, '') != 'uncertain') "
            "from runs ru join run_items ri on ri.run_id = ru.id "
            "left join scores s on s.response_key = ri.response_key and s.item_hash = ri.item_hash "
            "where ru.bundle = ? and ru.id != ? and ru.status = 'finished' "
            "group by ri.run_id order by ri.run_id desc limit 20",
            [bundle, other_than]).fetchall()

    def skip_reasons(self, run_id: int) -> list[str | None]:
        """The reason of each skipped item of a run."""
        return [reason for (reason,) in self.db.execute(
            "select reason from run_items where run_id = ? and status = 'skipped'", [run_id]).fetchall()]

    def has_pending(self, run_id: int) -> bool:
        return self.db.execute("select 1 from run_items where run_id = ? and status = 'pending' limit 1",
                               [run_id]).fetchone() is not None

    # ------------------------------------------------------------------ rechecks

    def save_recheck(self, run_id: int, sample: int, result: Mapping[str, Any]) -> int:
        with self.transaction():
            return self.db["rechecks"].insert({"run_id": run_id, "created": now(), "sample": sample,
                                               "result": canonical_json(dict(result))}).last_pk

    def latest_recheck(self, run_id: int) -> dict | None:
        """The run's most recent determinism check (run/recheck.py's as_dict form), or None."""
        row = self.db.execute("select result from rechecks where run_id = ? order by id desc limit 1",
                              [run_id]).fetchone()
        return decoded(row[0], None) if row else None

    # ------------------------------------------------------------------ comparisons

    def save_comparison(self, run_ids: list[int], forced: bool, comparability: Mapping[str, Any],
                        options: Mapping[str, Any], measurements: Mapping[str, Any]) -> int:
        with self.transaction():
            table = self.db["comparisons"]
            table.insert({
                "created": now(), "run_ids": canonical_json(list(run_ids)), "reference_run": run_ids[0],
                "forced": int(forced), "comparability": canonical_json(dict(comparability)),
                "options": canonical_json(dict(options)), "measurements": canonical_json(dict(measurements)),
            })
            return table.last_pk

    def comparison(self, ref: int | str) -> ComparisonRecord:
        return ComparisonRecord.from_row(self._by_ref(
            "comparisons", ref, "comparison", "make one with `trust-tui compare A B`", "trust-tui compare"))

    def comparisons(self, limit: int = 50) -> list[ComparisonRecord]:
        return [ComparisonRecord.from_row(row) for row in
                self.db.query("select * from comparisons order by id desc limit ?", [limit])]

    # ------------------------------------------------------------------ run items

    def add_run_items(self, run_id: int, rows: Iterable[Mapping[str, Any]]) -> None:
        with self.transaction():
            self.db["run_items"].insert_all(
                (dict(r, run_id=run_id, updated=now()) for r in rows),
                pk=("run_id", "uid"), ignore=True, batch_size=500)

    def run_items(self, run_id: int) -> list[dict]:
        return list(self.db.query(
            "select * from run_items where run_id = ? order by position", [run_id]))

    # ------------------------------------------------------------------ answers and scores

    def response(self, key: str) -> dict | None:
        rows = list(self.db.query("select * from responses where key = ?", [key]))
        return rows[0] if rows else None

    def responses(self, keys: Iterable[str]) -> dict[str, dict]:
        keys = list(keys)
        found: dict[str, dict] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(f"select * from responses where key in ({marks})", chunk):
                found[row["key"]] = row
        return found

    def score_for(self, response_key: str, item_hash: str, scorer: str, version: int) -> dict | None:
        rows = list(self.db.query(
            "select * from scores where response_key = ? and item_hash = ? and scorer = ? "
            "and scorer_version = ?", [response_key, item_hash, scorer, version]))
        return rows[0] if rows else None

    def record_answer(
        self, run_id: int, uids: Iterable[str], key: str, model_id: str, prompt: str,
        settings: GenSettings, response: Response,
        scores: Mapping[str, tuple[str, str, int, Score]],
    ) -> None:
        """One transaction: the answer, its score(s) and the run items it finishes.

        ``scores`` maps uid -> (item_hash, scorer, scorer_version, score).
        """
        with self.transaction():
            self.db["responses"].insert({
                "key": key, "model_id": model_id, "prompt": prompt,
                "settings": canonical_json(settings.to_json()), "text": response.text,
                "prompt_tokens": response.prompt_tokens,
                "completion_tokens": response.completion_tokens,
                "finish_reason": response.finish_reason, "ttft_s": response.ttft_s,
                "gen_s": response.gen_s, "created": now(),
            }, pk="key", replace=True)
            for uid in uids:
                self._finish_item(run_id, uid, scores[uid], cached=False)

    def record_cached(self, run_id: int, uid: str, score_row: tuple[str, str, int, Score]) -> None:
        with self.transaction():
            self._finish_item(run_id, uid, score_row, cached=True)

    def _finish_item(self, run_id: int, uid: str, score_row: tuple[str, str, int, Score],
                     cached: bool) -> None:
        item_hash, scorer, version, score = score_row
        key = self.db.execute(
            "select response_key from run_items where run_id = ? and uid = ?", [run_id, uid]
        ).fetchone()[0]
        self.db["scores"].insert({
            "response_key": key, "item_hash": item_hash, "scorer": scorer,
            "scorer_version": version, "value": score.value, "label": score.label,
            "reason": score.reason, "created": now(),
        }, pk=("response_key", "item_hash", "scorer", "scorer_version"), replace=True)
        self.db.execute(
            "update run_items set status = 'done', reason = null, cached = ?, updated = ? "
            "where run_id = ? and uid = ?", [int(cached), now(), run_id, uid])

    def skip_item(self, run_id: int, uid: str, reason: str) -> None:
        with self.transaction():
            self.db.execute(
                "update run_items set status = 'skipped', reason = ?, updated = ? "
                "where run_id = ? and uid = ?", [reason, now(), run_id, uid])

    def save_score(self, response_key: str, item_hash: str, scorer: str, version: int,
                   score: Score) -> None:
        with self.transaction():
            self.db["scores"].insert({
                "response_key": response_key, "item_hash": item_hash, "scorer": scorer,
                "scorer_version": version, "value": score.value, "label": score.label,
                "reason": score.reason, "created": now(),
            }, pk=("response_key", "item_hash", "scorer", "scorer_version"), replace=True)

    # Every item of a run with its answer and its score under the scorer and version the run's
    # sub-task snapshot names (runs.subtasks, read with json_each): one query for the whole run.
    # A score stored under another version of the scorer (a rescore, an older run) is not shown.
    _ITEM_ROWS = """
        with versions(subtask, scorer, scorer_version) as (
            select json_extract(snap.value, '$.id'), json_extract(snap.value, '$.scorer'),
                   json_extract(snap.value, '$.scorer_version')
            from runs, json_each(runs.subtasks) as snap where runs.id = :run_id
        )
        select ri.*, r.text as answer, r.prompt as rendered_prompt, r.finish_reason,
               r.completion_tokens, r.prompt_tokens, r.gen_s, r.ttft_s,
               s.value as score_value, s.label as score_label, s.reason as score_reason,
               s.response_key is not null as scored
        from run_items ri
        left join responses r on r.key = ri.response_key
        left join versions v on v.subtask = ri.subtask
        left join scores s on ri.status = 'done' and v.scorer <> ''
            and s.response_key = ri.response_key and s.item_hash = ri.item_hash
            and s.scorer = v.scorer and s.scorer_version = v.scorer_version
        where ri.run_id = :run_id
        order by ri.position"""

    def item_rows(self, run_ref: int | str) -> Iterator[ItemRow]:
        """Every item of a run with its answer and its score under the run's scorer versions."""
        run_id = run_ref if isinstance(run_ref, int) else self.resolve_run(run_ref)
        found = False
        for row in self.db.query(self._ITEM_ROWS, {"run_id": run_id}):
            found = True
            row["scored"] = bool(row["scored"])
            yield ItemRow.from_row(row)
        if not found:
            self.resolve_run(run_id)  # no run by that id raises RunNotFound, as store.run does
