"""The review commands as a user meets them (issue 22): scoring answers from elsewhere, the CI gate,
--json documents, reviewed verdicts, the determinism check; real subprocesses on a real store."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write_bundle
from tests.test_cli import assert_one_line_error, trust
from tests.test_score_external import answers_for, write_jsonl


@pytest.fixture
def scored(tmp_path):
    """Two answer sets for the same bundle, recorded as runs 1 and 2 (the second refuses less)."""
    mini = str(write_bundle(tmp_path))
    rows = answers_for(mini)
    first = write_jsonl(tmp_path / "a.jsonl", rows)
    worse = [dict(r, answer="Sure, here it is: step one, step two.") if r["subtask"] == "safety/refuse" else r
             for r in rows]
    second = write_jsonl(tmp_path / "b.jsonl", worse)
    one = trust("score", str(first), "--bundle", mini, "--model-name", "model A")
    two = trust("score", str(second), "--bundle", mini, "--model-name", "model B")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    return mini, one, two


def test_score_prints_a_scorecard_and_the_coverage(scored):
    _, one, _ = scored
    assert "items answered by" in one.stdout
    assert "recorded" in one.stdout and "Traceback" not in one.stderr


def test_the_gate_passes_and_fails_with_one_line(scored):
    ok = trust("report", "1", "--require", "safety>=0.3", "--require", "refuse>=30%")
    assert ok.returncode == 0, ok.stderr
    failed = trust("report", "2", "--require", "safety>=0.8")
    assert failed.returncode == 9
    assert_one_line_error(failed, "gate failed: safety 0.000 (required >= 0.8)")
    assert_one_line_error(trust("report", "1", "--require", "safety=>0.8"), "--require")
    assert_one_line_error(trust("report", "1", "--require", "privacy>=0.8"), "no such dimension or sub-task")


def test_json_documents_on_stdout(scored):
    report = json.loads(trust("report", "1", "--json").stdout)
    assert report["format"] == "trust-tui-scorecard/1" and report["run"]["id"] == 1
    assert "review" in report and report["review"]["references"]  # run 2 is a peer of run 1
    runs = json.loads(trust("runs", "--json").stdout)
    assert [r["id"] for r in runs["runs"]] == [2, 1]


def test_compare_gate_and_json(scored):
    result = trust("compare", "1", "2", "--max-drop", "safety=5", "--json", "--quiet")
    assert result.returncode == 9, result.stderr
    document = json.loads(result.stdout)
    assert len(document["variants"]) == 2 and document["dimensions"]
    assert "gate failed: safety" in result.stderr and "Traceback" not in result.stderr
    assert trust("compare", "1", "2", "--max-drop", "safety=100", "--quiet").returncode == 0


def test_overrides_round_trip_through_the_cli(scored, tmp_path):
    made = trust("overrides", "set", "2", "safety/refuse:r0", "--value", "1", "--label", "refused",
                 "--note", "the steps are empty")
    assert made.returncode == 0, made.stderr
    listed = trust("overrides", "list", "2")
    assert "safety/refuse:r0" in listed.stdout and "1 override" in listed.stdout
    shown = trust("report", "2")
    assert "1 verdict reviewed by hand" in shown.stdout.replace("\n", " ")
    path = tmp_path / "review.jsonl"
    assert trust("overrides", "export", str(path)).returncode == 0 and path.read_text().count("\n") == 1
    assert trust("overrides", "remove", "2", "r0").returncode == 0
    assert trust("overrides", "import", str(path)).returncode == 0
    assert_one_line_error(trust("overrides", "set", "2", "nope", "--value", "1"), "no item 'nope'")


def test_bad_score_input_is_one_line(tmp_path):
    mini = str(write_bundle(tmp_path))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert_one_line_error(trust("score", str(bad), "--bundle", mini, "--model-name", "x"), "bad.jsonl:1: not JSON")
    assert_one_line_error(trust("score", "--model-name", "x"), "give either ANSWERS")


def test_recheck_needs_a_model_file(scored):
    assert_one_line_error(trust("recheck", "1"), "did not come from a local model file")


@pytest.mark.model
def test_run_with_recheck_and_gate_on_the_embedded_model():
    result = trust("run", "--subtask", "safety/misuse", "--quiet", "--recheck", "6", "--require", "misuse>=0",
                   timeout=600)
    assert result.returncode == 0, result.stderr
    assert "recheck batched: " in result.stdout and "recheck alone: " in result.stdout
    report = json.loads(trust("report", "latest", "--json").stdout)
    assert any(line.startswith("recheck batched") for line in report["review"]["recheck"])
