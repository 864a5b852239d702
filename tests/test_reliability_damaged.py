"""A store whose header is intact but whose pages are damaged: every command says so in one
line, and `trust-tui doctor` keeps the file aside and rebuilds what can be read."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_bundle
from tests.test_reliability_gguf import write_gguf

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096


def trust(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TRUST_TUI_HOME=str(home), PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "trust_tui", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def build_store(home: Path, tmp_path: Path, runs: int = 2) -> Path:
    """A real store: ``runs`` runs of a bundle on the scripted backend, each answer marked so
    its pages can be found in the file."""
    from trust_tui.engine.run import api
    from trust_tui.engine.backends.fake import FakeBackend
    from trust_tui.engine.run.loop import RunSpec
    from trust_tui.engine.run.store import Store

    items = {"refuse": [{"id": f"r{i}", "prompt": f"Please do harmful thing number {i}."} for i in range(60)]}
    bundle = write_bundle(tmp_path, "mini", items=items)
    store = Store(home / "trust.db")
    try:
        for index in range(runs):
            api.run(spec=RunSpec(bundle=str(bundle), profile="full"), store=store,
                    backend=FakeBackend(model_id=f"model-{index}",
                                        script=lambda r, i=index: f"MARKER{i} {r.prompt} " + "filler " * 60))
    finally:
        store.close()
    return home / "trust.db"


def damage(path: Path, marker: bytes | None, share: float = 1.0, seed: int = 0) -> int:
    """Overwrite pages with noise: those holding ``marker`` (a share of them), or, with no
    marker, every page but the first (the header and the schema stay readable)."""
    data = bytearray(path.read_bytes())
    pages = range(1, len(data) // PAGE)
    if marker is not None:
        pages = [p for p in pages if marker in data[p * PAGE:(p + 1) * PAGE]]
        pages = random.Random(seed).sample(pages, max(1, int(len(pages) * share)))
    noise = random.Random(seed + 1)
    for page in pages:
        data[page * PAGE:(page + 1) * PAGE] = bytes(noise.getrandbits(8) for _ in range(PAGE))
    path.write_bytes(data)
    return len(pages)


def one_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("where", ["every-page", "answer-pages"])
def test_every_command_says_damaged_in_one_line(tmp_path, trust_home, where):
    """Every page but the header: the store fails as it opens. Only the pages holding answers
    (what the issue met: `runs` works, `report` crashed with DatabaseError mid-query): the
    commands that read answers fail there, each with the same one line."""
    path = build_store(trust_home, tmp_path)
    damage(path, marker=None if where == "every-page" else b"MARKER")
    model = write_gguf(tmp_path / "crafted.gguf")
    commands = [["report", "latest"], ["report", "1"], ["export", "latest"],
                ["export", "1", "--format", "json"], ["items", "latest"],
                ["compare", "1", "2", "--no-speed", "--agreement-items", "0"]]
    if where == "every-page":  # (a run reads answers only after loading its model)
        commands += [["runs"], ["rescore", "latest"], ["run", str(model), "--bundle", str(tmp_path / "mini")]]
    for args in commands:
        line = one_line(trust(trust_home, *args))
        assert "damaged" in line and "trust-tui doctor" in line, (args, line)


def test_doctor_on_a_healthy_store(tmp_path, trust_home):
    build_store(trust_home, tmp_path, runs=1)
    result = trust(trust_home, "doctor")
    assert result.returncode == 0 and "store ok" in result.stdout and "runs 1" in result.stdout


@pytest.mark.parametrize("use_cli", [True, False], ids=["sqlite3-recover", "row-copy"])
def test_doctor_keeps_the_damaged_file_and_recovers(tmp_path, trust_home, use_cli, monkeypatch):
    path = build_store(trust_home, tmp_path)
    before = sqlite3.connect(path)
    answers = before.execute("select count(*) from responses").fetchone()[0]
    items = before.execute("select count(*) from run_items").fetchone()[0]
    before.close()
    damage(path, marker=b"MARKER1", share=0.5)
    if use_cli and not __import__("shutil").which("sqlite3"):
        pytest.skip("no sqlite3 program")
    if not use_cli:
        monkeypatch.setenv("PATH", "/nonexistent")  # no sqlite3: the row-by-row copy
    result = trust(trust_home, "doctor")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    kept = list(trust_home.glob("trust.damaged-*.db"))
    assert len(kept) == 1 and "kept the damaged file" in result.stdout
    # With no sqlite3 program the rows are copied one by one; where the program's .recover
    # fails (Debian's 3.40.1 does, even on a healthy file) the doctor says so and copies too.
    assert ("sqlite3 .recover" if use_cli else "recovered (row copy)") in result.stdout
    fresh = sqlite3.connect(path)
    try:
        assert fresh.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        recovered = fresh.execute("select count(*) from responses").fetchone()[0]
        # Half the pages holding run 1's answers are noise: those answers (and run 0's that
        # shared a page with them) are lost, everything else comes back.
        assert 0.6 * answers <= recovered < answers, (recovered, answers)
        assert fresh.execute("select count(*) from runs").fetchone()[0] == 2
        assert fresh.execute("select count(*) from run_items").fetchone()[0] == items
    finally:
        fresh.close()
    # The rebuilt store works: its scorecards print, and the run that lost answers resumes.
    assert trust(trust_home, "report", "1").returncode == 0
    runs = trust(trust_home, "runs")
    assert runs.returncode == 0 and "interrupted" in runs.stdout
