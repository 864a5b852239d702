"""The store under a full disk, two processes creating it at once, and a read-only folder."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_bundle
from tests.test_reliability_gguf import write_gguf

ROOT = Path(__file__).resolve().parent.parent

# A `trust-tui run` in a child process whose files may not grow past argv[1] bytes (the
# portable way to fill a disk: RLIMIT_FSIZE; SIGXFSZ ignored so a write fails with EFBIG
# instead of killing the process). The scripted fake answers, long, so the store grows fast.
CHILD = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from trust_tui.engine.run import api
from trust_tui.engine.backends.fake import FakeBackend
api.open_backend = lambda *a, **k: FakeBackend(script=lambda r: "MARKER-ANSWER " + r.prompt[-48:] + " word" * 400)
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from trust_tui.cli import main
main(sys.argv[2:])
"""


def child(home: Path, limit: int, *args: str, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TRUST_TUI_HOME=str(home), PYTHONPATH=pythonpath or str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-c", CHILD, str(limit), *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=pythonpath or ROOT)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def big_bundle(tmp_path) -> Path:
    items = {"refuse": [{"id": f"r{i}", "prompt": f"Please do harmful thing number {i}."} for i in range(120)]}
    return write_bundle(tmp_path, "big", items=items)


def _store_rows(home: Path) -> tuple[str, int, str]:
    from trust_tui.engine.run.store import Store

    store = Store(home / "trust.db") if (home / "trust.db").exists() else Store()
    try:
        run = store.runs()[0]
        done = store.db.execute("select count(*) from run_items where status = 'done'").fetchone()[0]
        check = store.db.execute("PRAGMA integrity_check").fetchone()[0]
        return run["status"], done, check
    finally:
        store.close()


def test_disk_full_mid_run(tmp_path, trust_home, big_bundle):
    model = write_gguf(tmp_path / "crafted.gguf")
    args = ("run", str(model), "--bundle", str(big_bundle), "--profile", "full", "--quiet")
    from trust_tui import paths
    from trust_tui.engine.run.store import Store

    Store().close()  # the store exists; the disk fills while the run writes answers
    limit = paths.db_path().stat().st_size + 160_000
    line = one_line_error(child(trust_home, limit, *args))
    assert line.startswith("error: disk full") and "finished items are kept" in line, line
    status, done, check = _store_rows(trust_home)
    assert status in ("interrupted", "failed") and check == "ok"
    assert 0 < done < 132, done
    # With room again, the same command finishes and generates only what was missing.
    again = child(trust_home, 0, *args)
    assert again.returncode == 0, again.stderr
    assert f"generated {132 - done} · cached {done}" in again.stdout
    assert _store_rows(trust_home)[:2] == ("finished", 132)


def test_disk_full_before_the_store_exists(tmp_path, trust_home):
    line = one_line_error(child(trust_home, 2048, "runs"))
    assert line.startswith("error: disk full") and "cannot create the store" in line, line


def test_disk_full_while_creating_a_store_names_no_rollback(tmp_path, trust_home):
    # A limit just past the header: the schema's transaction fails at COMMIT.
    result = child(trust_home, 12_288, "runs")
    assert "rollback" not in result.stderr and "Traceback" not in result.stderr
    assert result.returncode != 0


OPEN = r"""
import sys, time
from trust_tui.engine.run.store import Store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
Store(sys.argv[1]).close()
"""


def test_processes_creating_a_store_at_once(tmp_path):
    """The issue: 6 failures in 10 tries ('table "file_hashes" already exists')."""
    failures = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for attempt in range(20):
        path = tmp_path / f"race{attempt}" / "trust.db"
        start = time.time() + 0.6  # every child imported and waiting when the clock strikes
        procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(path), str(start)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failures.append(err.strip().splitlines()[-1] if err.strip() else proc.returncode)
        conn = sqlite3.connect(path)
        from trust_tui.engine.run.store import MIGRATIONS

        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        conn.close()
    assert failures == []


def _make_store_with_a_run(home: Path, bundle: Path) -> None:
    from trust_tui.engine.run import api
    from trust_tui.engine.backends.fake import FakeBackend
    from trust_tui.engine.run.loop import RunSpec
    from trust_tui.engine.run.store import Store

    store = Store(home / "trust.db")
    try:
        api.run(spec=RunSpec(bundle=str(bundle)), store=store, backend=FakeBackend())
    finally:
        store.close()


def _read_only_view(home: Path, tmp_path: Path):
    """``home`` as a folder this process cannot write: chmod for a normal user; for root (who
    writes through any mode bits) a read-only bind mount, where that is allowed."""
    if os.geteuid() != 0:
        os.chmod(home / "trust.db", 0o444)
        os.chmod(home, 0o555)
        return home, lambda: os.chmod(home, 0o755)
    view = tmp_path / "ro-view"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(home), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("root without permission to make a read-only bind mount")
    remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True)
    if remount.returncode != 0:
        subprocess.run(["umount", str(view)], check=False)
        pytest.skip("cannot remount the bind mount read-only")
    return view, lambda: subprocess.run(["umount", str(view)], check=False)


def test_read_only_store_can_be_read(tmp_path):
    """File and folder read-only (a backup, another user's store, a read-only mount): runs,
    report and export work; a write says read-only in one line."""
    home = tmp_path / "home"
    home.mkdir()
    bundle = write_bundle(tmp_path, "mini")
    _make_store_with_a_run(home, bundle)
    assert not (home / "trust.db-wal").exists()  # closed cleanly: no -shm to read through
    view, undo = _read_only_view(home, tmp_path)
    try:
        assert not os.access(view / "trust.db", os.W_OK)

        def reader(*args):
            env = dict(os.environ, TRUST_TUI_HOME=str(view), PYTHONPATH=str(ROOT))
            return subprocess.run([sys.executable, "-m", "trust_tui", *args], capture_output=True,
                                  text=True, timeout=120, env=env)

        for args in (["runs"], ["report", "latest"], ["export", "latest", "--format", "md"],
                     ["export", "1", "--format", "json"], ["items", "latest"]):
            result = reader(*args)
            assert result.returncode == 0, (args, result.stderr)
            assert "Traceback" not in result.stderr
        assert "finished" in reader("runs").stdout
        # A write (rescore saves scores when a scorer changed; here it has nothing to write)
        # and a run, which must write: one line naming the read-only store.
        assert reader("rescore", "latest").returncode == 0
        model = write_gguf(tmp_path / "crafted.gguf")
        line = one_line_error(reader("run", str(model), "--bundle", str(bundle)))
        assert "read-only" in line, line
    finally:
        undo()
