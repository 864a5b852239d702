"""Check the store and, when it is damaged, keep it aside and rebuild a working one.

A store can be damaged by a disk that failed mid-write, a copy taken while a run was writing, a
sync tool, or a crash of the filesystem. Every command then stops with one line pointing here.
``repair`` never deletes anything: the damaged file (and its -wal/-shm, which hold committed
pages of their own) is renamed with a timestamp, a fresh store is created with the current
schema, and every row that can still be read is copied into it — from what sqlite3's
``.recover`` salvages when the ``sqlite3`` program is installed, else straight from the
damaged file, table by table, stepping over unreadable pages.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from trust_tui.engine.run.store import Store
from trust_tui.errors import StoreError

_SIDE_FILES = ("-wal", "-shm")
_STEPS = 512  # rowids probed one by one past a damaged page (a 4 KiB page holds fewer rows)


@dataclass
class Check:
    path: Path
    exists: bool
    ok: bool
    problems: list[str] = field(default_factory=list)  # integrity_check's first lines
    counts: dict[str, int] = field(default_factory=dict)  # rows per table, when readable


@dataclass
class Repair:
    kept_as: Path
    method: str  # "sqlite3 .recover" or "row copy"
    recovered: dict[str, int]  # rows per table now in the fresh store
    reopened: int  # items marked pending again because their answer was lost


def check(path: Path) -> Check:
    if not path.exists():
        return Check(path, exists=False, ok=True)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check(20)").fetchall()]
            counts = _counts(conn) if rows == ["ok"] else {}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Check(path, exists=True, ok=False, problems=[str(exc)])
    return Check(path, exists=True, ok=rows == ["ok"], problems=[] if rows == ["ok"] else rows,
                 counts=counts)


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' "
        "order by rootpage")]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"select count(*) from [{t}]").fetchone()[0] for t in _tables(conn)}


def repair(path: Path, use_cli: bool = True) -> Repair:
    """Move the damaged store aside, create a fresh one at ``path`` and copy what is readable."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    try:
        path.rename(kept)
        for suffix in _SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.rename(f"{kept}{suffix}")
    except OSError as exc:
        raise StoreError(f"{path}: cannot move the damaged store aside ({exc.strerror or exc})") from None
    source, method, scratch = kept, "row copy", None
    sqlite_cli = shutil.which("sqlite3") if use_cli else None
    if sqlite_cli:
        scratch, problem = _recover_with_cli(sqlite_cli, kept)
        if scratch is not None:
            source, method = scratch, "sqlite3 .recover"
        else:
            method = f"row copy; sqlite3 .recover failed: {problem}"
    try:
        fresh = Store(path)
        try:
            recovered = _copy_rows(source, fresh)
            reopened = _reconcile(fresh)
        finally:
            fresh.close()
    finally:
        if scratch is not None:
            scratch.unlink(missing_ok=True)
    return Repair(kept, method, recovered, reopened)


def _recover_with_cli(sqlite_cli: str, damaged: Path) -> tuple[Path | None, str]:
    """sqlite3's .recover reads every page it can and writes SQL that rebuilds the tables.
    Returns (the rebuilt scratch database, '') or (None, why not). (Debian's sqlite3 3.40.1
    fails .recover even on a healthy file, "SQL logic error"; the row copy then does the work.)"""
    handle, name = tempfile.mkstemp(suffix=".db", dir=damaged.parent)
    os.close(handle)
    scratch = Path(name)
    scratch.unlink()
    try:
        dump = subprocess.run([sqlite_cli, str(damaged), ".recover"], capture_output=True,
                              timeout=600, check=False)
        if dump.returncode != 0 or not dump.stdout:
            return None, _last_line(dump.stderr) or f"exit {dump.returncode}"
        load = subprocess.run([sqlite_cli, str(scratch)], input=dump.stdout, capture_output=True,
                              timeout=600, check=False)
        if load.returncode != 0:
            scratch.unlink(missing_ok=True)
            return None, _last_line(load.stderr) or f"exit {load.returncode}"
        return scratch, ""
    except (OSError, subprocess.SubprocessError) as exc:
        scratch.unlink(missing_ok=True)
        return None, str(exc)


def _last_line(data: bytes) -> str:
    lines = [line for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else ""


def _copy_rows(source: Path, fresh: Store) -> dict[str, int]:
    """Copy every readable row of the current schema's tables into ``fresh`` (columns by name,
    so a store from an older schema version copies too). A damaged b-tree page ends a scan;
    the scan then resumes past it, at rowids further and further on, so one bad page costs
    only the rows it held."""
    tables = _tables(fresh.db.conn)
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return {t: 0 for t in tables}
    copied: dict[str, int] = {}
    try:
        try:
            present = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        except sqlite3.DatabaseError:
            present = set(tables)  # the schema page itself is damaged; try each table anyway
        for table in tables:
            copied[table] = _copy_table(conn, fresh, table) if table in present else 0
    finally:
        conn.close()
    return copied


def _copy_table(conn: sqlite3.Connection, fresh: Store, table: str) -> int:
    wanted = [c.name for c in fresh.db[table].columns]
    try:
        have = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
    except sqlite3.DatabaseError:
        return 0
    columns = [c for c in wanted if c in have]
    if not columns:
        return 0
    names = ", ".join(f"[{c}]" for c in columns)
    insert = f"insert or ignore into [{table}] ({names}) values ({', '.join('?' * len(columns))})"
    after, jump, batch = None, 1, 500
    while True:
        where = "" if after is None else "where rowid > ?"
        try:
            rows = conn.execute(f"select rowid, {names} from [{table}] {where} order by rowid limit {batch}",
                                [] if after is None else [after]).fetchall()
        except sqlite3.DatabaseError:
            if batch > 1:
                batch = 1  # read up to the damaged page one row at a time
                continue
            if jump > 1 << 40:
                break
            # Step over the damaged page: one rowid at a time for as many rows as a page can
            # hold, then in growing strides (a damaged interior page hides a whole range).
            after = (after or 0) + (1 if jump <= _STEPS else jump)
            jump += 1 if jump <= _STEPS else jump
            continue
        if not rows:
            break
        with fresh.transaction():
            for row in rows:
                fresh.db.execute(insert, row[1:])
        after, jump, batch = rows[-1][0], 1, 500
    return fresh.db.execute(f"select count(*) from [{table}]").fetchone()[0]


def _reconcile(fresh: Store) -> int:
    """A finished item whose answer was lost is pending again (a run of the same spec regenerates
    it), and a run with pending items is interrupted, so it resumes."""
    with fresh.transaction():
        reopened = fresh.db.execute(
            "update run_items set status = 'pending', cached = 0 where status = 'done' and "
            "response_key not in (select key from responses)").rowcount
        fresh.db.execute(
            "update runs set status = 'interrupted' where status in ('finished', 'running') and "
            "id in (select run_id from run_items where status = 'pending')")
    return reopened
