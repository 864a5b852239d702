"""The store's SQLite plumbing: its transactions, and the one-line messages for what the disk or
the file can do to it (full, read-only, locked, damaged)."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any

from trust_tui.errors import StoreError


class Transaction:
    """BEGIN IMMEDIATE … COMMIT, re-entrant; turns disk errors into one-line StoreErrors."""

    def __init__(self, store: Any):
        self.store = store

    def __enter__(self):
        conn = self.store.db.conn
        self.outer = not conn.in_transaction
        if self.outer:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise store_error(self.store.path, exc, self.store.opening) from None
        return self

    def __exit__(self, exc_type, exc, tb):
        conn = self.store.db.conn
        if not self.outer:
            return False
        if exc_type is None:
            try:
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as err:
                # A COMMIT that fails for a full disk or an I/O error has usually been rolled
                # back by SQLite already; a ROLLBACK then raises "no transaction is active".
                _rollback(conn)
                raise store_error(self.store.path, err, self.store.opening) from None
            return False
        _rollback(conn)
        if isinstance(exc, sqlite3.DatabaseError):
            raise store_error(self.store.path, exc, self.store.opening) from None
        return False


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.DatabaseError:
            pass  # nothing left to undo; the error that brought us here is the one to report


def writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """mode=ro reads a WAL store when its -shm can be used; in a read-only folder with no -shm
    (the last writer closed cleanly), only immutable=1 opens it, which is safe here because
    nobody can write that folder."""
    from urllib.parse import quote

    uri = f"file:{quote(str(path.resolve()))}"
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None)
        conn.execute("select count(*) from sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def is_damaged(exc: BaseException) -> bool:
    """An error that means the database file itself is damaged (not locked, full or read-only)."""
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "not a database" in text or "corrupt" in text)


def damaged_message(path: Path, exc: BaseException) -> str:
    return (f"{path}: the store is damaged ({exc}); `trust-tui doctor` keeps it aside and "
            "recovers what it can")


def store_error(path: Path, exc: Exception, opening: bool = False) -> StoreError:
    text = str(exc)
    if is_damaged(exc):
        return StoreError(damaged_message(path, exc))
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{path}: the store is read-only; set TRUST_TUI_HOME to a writable folder")
    full = "full" in text or getattr(exc, "errno", None) == errno.ENOSPC
    if full or "disk I/O error" in text:
        # A full disk reads SQLITE_FULL; a file-size limit or a quota often reads as an I/O error.
        what = "cannot create the store" if opening else "cannot write the store"
        kept = "" if opening else "; finished items are kept, run again to resume"
        head = "disk full" if full else f"disk full or failing ({text})"
        return StoreError(f"{head}: {what} at {path}{kept}")
    if "locked" in text:
        return StoreError(f"{path}: the store is locked by another trust-tui process")
    if opening:
        return StoreError(f"{path}: cannot open the store ({text})")
    return StoreError(f"{path}: store error ({text})")
