"""The command line as a user meets it: one-line errors, exit codes, no tracebacks."""

import os
import subprocess
import sys

import pytest

from tests.conftest import write_bundle


def trust(*args, env=None, timeout=120):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "trust_tui", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_not_a_gguf(tmp_path):
    path = tmp_path / "hostname"
    path.write_text("myhost\n")
    assert_one_line_error(trust("run", str(path)), "not a GGUF model file")


def test_missing_model(tmp_path):
    assert_one_line_error(trust("run", str(tmp_path / "nope.gguf")), "no such file")


def test_truncated_model(tmp_path, smol_path):
    cut = tmp_path / "cut.gguf"
    with smol_path.open("rb") as src:
        cut.write_bytes(src.read(40_000_000))
    assert_one_line_error(trust("run", str(cut)), "truncated GGUF")


def test_unknown_bundle():
    assert_one_line_error(trust("run", "--bundle", "nope"), "unknown bundle 'nope'")


def test_invalid_bundle(tmp_path):
    directory = write_bundle(tmp_path)
    (directory / "items" / "mc.jsonl").write_text('{"id": "m0", "prompt": "Q", "choices": {"A": "x"}, "gold": "Z"}\n')
    result = trust("validate", str(directory))
    assert_one_line_error(result, "mc.jsonl:1", "gold")
    assert_one_line_error(trust("run", "--bundle", str(directory)), "mc.jsonl:1")


def test_unknown_run():
    assert_one_line_error(trust("report", "42"), "no run 42")
    assert_one_line_error(trust("export", "latest"), "no runs yet")


def test_read_only_store(tmp_path):
    home = tmp_path / "ro"
    home.mkdir()
    os.chmod(home, 0o500)
    try:
        if os.access(home, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        result = trust("runs", env={"TRUST_TUI_HOME": str(home)})
        assert_one_line_error(result, "store")
    finally:
        os.chmod(home, 0o700)


def test_validate_shipped_bundle():
    result = trust("validate", "trust-core")
    assert result.returncode == 0, result.stderr
    assert "trust-core" in result.stdout and "valid" in result.stdout


def test_bundles_and_runs_list_without_data():
    assert trust("bundles").returncode == 0
    result = trust("runs")
    assert result.returncode == 0 and "no runs yet" in result.stdout


def test_models_lists_a_folder(tmp_path, smol_path):
    (tmp_path / "m").mkdir()
    os.symlink(smol_path, tmp_path / "m" / "smol.gguf")
    (tmp_path / "m" / "broken.gguf").write_bytes(b"nope")
    result = trust("models", str(tmp_path / "m"), env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    assert "Q4_1" in result.stdout and "unreadable" in result.stdout
