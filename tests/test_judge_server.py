"""The judge behind an OpenAI-compatible server.

Against llama-cpp-python's real server (``python -m llama_cpp.server`` on the embedded SmolLM2,
started on a free port; marked ``model``: run under the model lock) a cached run is judged,
the verdicts are held to the grammar by the server, cached under the served file's sha256, and a
second judging judges nothing. Against the scripted server (tests/scripted_server.py, no model):
how a served judge is named in the cache, that a server of unknown kind gets no grammar and its
unreadable answers are counted, and the one-line errors of bad option combinations."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from tests.conftest import write_bundle
from scripted_server import ScriptedServer
from trust_tui.cli import cli
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.judge import cache, judging
from trust_tui.engine.judge.rubrics import load_all
from trust_tui.engine.judge.server import ServerJudge
from trust_tui.engine.judge.session import JudgeOptions, judge_existing, open_judge
from trust_tui.engine.models import files as models
from trust_tui.engine.run import api
from trust_tui.engine.run.loop import RunSpec
from trust_tui.errors import TrustError

SUBTASK = "truthfulness/adversarial_factuality"  # the premise rubric rereads every "accepted"
AUDITED = "safety/misuse"
GRAMMAR_OUTPUT = re.compile(r"^label: [a-z-]+\nreason: [^\n]*$")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(smol_path):
    """llama-cpp-python's own server with its defaults, on the embedded SmolLM2."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smol_path), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not start on the embedded model")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _cli(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.model
def test_a_cached_run_judged_through_llama_cpp_server(store, smol_path, llama_server):
    # Premise answers go to the judge (its rubric rereads every "accepted"); misuse answers are
    # mostly decided by the rules, so the audit sample has some to read.
    _cli(["run", "--subtask", SUBTASK, "--subtask", AUDITED, "--per-subtask", "4", "--quiet"])
    answers = store.db.execute("select count(*), max(created) from responses").fetchone()
    judge = ["judge", "latest", "--judge-server", llama_server, "--judge-server-model-file",
             str(smol_path), "--judge-audit", "3"]
    first = _cli(judge)
    found = re.search(r"judge: judged (\d+) · cached 0 · audit (\d+)", first)
    assert found, first
    judged, audited = int(found.group(1)), int(found.group(2))
    assert 1 <= audited <= 3 and judged > audited
    assert "via llama-cpp-python" in first and "· grammar" in first
    assert f"judge vs rules on {audited} rule-decided answers" in first
    assert store.db.execute("select count(*), max(created) from responses").fetchone() == answers
    sha = models.identify(smol_path, store).sha256
    rows = store.db.execute("select judge_id, label, raw from judge_verdicts").fetchall()
    assert len(rows) == judged
    assert {r[0] for r in rows} == {f"server:llama-cpp-python:gguf:{sha}"}
    # The server held every answer to the grammar: each parses to one of the rubric's labels.
    assert all(r[1] is not None and GRAMMAR_OUTPUT.match(r[2]) for r in rows), rows
    binding = cache.binding(store, store.run("latest")["id"])
    assert binding.loading == "server" and binding.judge_id == f"server:llama-cpp-python:gguf:{sha}"
    assert f"judge {sha[:12]} (premise@1)" in first
    again = _cli(judge)
    assert f"judge: judged 0 · cached {judged} · audit {audited}" in again
    assert store.db.execute("select count(*) from judge_verdicts").fetchone()[0] == judged


@pytest.mark.model
def test_judge_check_through_the_server_and_its_identity_without_the_file(store, llama_server):
    out = _cli(["judge-check", "--judge-server", llama_server, "--sample", "4"])
    assert "kappa (binary)" in out and re.search(r"all\s+│\s+4\s", out), out
    assert "judge-check: judged 4 · cached 0" in out
    # Named by what the server says and the answer probe: the same name twice, never a guess.
    first = open_judge(JudgeOptions(server=llama_server), store)
    second = open_judge(JudgeOptions(server=llama_server), store)
    try:
        assert first.judge_id == second.judge_id
        assert first.judge_id.startswith("server:llama-cpp-python:") and not first.warning
        assert cache.calibration(store, first.judge_id, "generic", "refusal", 1).n == 4
    finally:
        first.close()
        second.close()
    assert "judge-check: judged 0 · cached 4" in _cli(
        ["judge-check", "--judge-server", llama_server, "--sample", "4"])


# ---------------------------------------------------------------------- without a model


def _scripted_run(tmp_path, store) -> int:
    bundle = write_bundle(tmp_path)
    unfinished = "<think>The user wants something harmful. I should think about it"
    return api.run(spec=RunSpec(bundle=str(bundle), profile="full"), store=store,
                   backend=FakeBackend(lambda r: unfinished if "harmful" in r.prompt else "Answer: A",
                                       model_id="audited")).run_id


def test_a_server_of_unknown_kind_gets_no_grammar_and_free_answers_count_as_unreadable(tmp_path, store):
    run_id = _scripted_run(tmp_path, store)
    with ScriptedServer() as server:
        outcome, judge = judge_existing(store, run_id, JudgeOptions(server=server.url, audit=0))
        assert not judge.constrained and "no grammar" in judge.label
        assert server.bodies and not any("grammar" in body for body in server.bodies)
    # The scripted server echoes the prompt, which names every label: no single label is read.
    assert outcome.judged == 6 and outcome.unreadable == 6
    assert judge.judge_id.startswith("server:openai-compatible:")
    reasons = {v.reason for v in cache.verdicts(store, (t.key for t in judging.plan(
        store, run_id, judge, load_all(), judging.JudgeOutcome(run_id), audit=0))).values()}
    assert reasons and all("names several labels" in r or "no rubric label" in r for r in reasons)


def test_a_served_judge_is_named_by_the_file_an_assertion_or_the_probe(tmp_path, store, smol_path):
    with ScriptedServer(weights="A") as a, ScriptedServer(weights="B") as b:
        probed = [ServerJudge(s.url) for s in (a, a, b)]
        asserted = ServerJudge(a.url, fingerprint="my judge")
        named = ServerJudge(a.url, model_file=models.identify(smol_path, store))
    for judge in (*probed, asserted, named):
        judge.close()
    ids = [j.judge_id for j in probed]
    assert ids[0] == ids[1] != ids[2]  # the same model twice; another model is another judge
    assert asserted.judge_id == "server:asserted:my_judge"
    sha = models.identify(smol_path, store).sha256
    assert named.judge_id == f"server:openai-compatible:gguf:{sha}" and named.short_id == sha[:12]
    assert named.format_name == "generic"


def test_a_server_that_cannot_be_identified_is_never_cached_under_a_guess(tmp_path, store):
    with ScriptedServer() as server:
        server.probe_varies = True
        first, second = ServerJudge(server.url), ServerJudge(server.url)
    first.close()
    second.close()
    assert first.judge_id.startswith("server:unidentified:") and first.judge_id != second.judge_id
    assert "never reused" in first.warning


def test_the_format_is_read_from_the_served_model_name(store):
    with ScriptedServer(model="Llama-Guard-3-1B-Q8_0") as server:
        guard = ServerJudge(server.url)
        assert guard.format_name == "llama-guard-3" and "served model's name" in guard.format_source
        forced = ServerJudge(server.url, format_name="generic")
        assert forced.format_name == "generic"
        guard.close()
        forced.close()
        with pytest.raises(TrustError, match="wildguard format .* judge with the GGUF file"):
            ServerJudge(server.url, format_name="wildguard")


@pytest.mark.parametrize("args, message", [
    (["judge", "latest", "--judge", "x.gguf", "--judge-server", "http://127.0.0.1:9/v1"], "not both"),
    (["judge", "latest"], "no judge"),
    (["judge-check", "--judge-fingerprint", "x"], "no judge"),
    (["judge", "latest", "--judge", "{smol}", "--judge-fingerprint", "x"], "go with --judge-server"),
    (["judge-check", "--judge-server", "http://127.0.0.1:9/v1"], "cannot reach"),
])
def test_bad_judge_options_give_one_line_and_a_non_zero_exit(args, message, tmp_path, store, smol_path):
    _scripted_run(tmp_path, store)
    args = [a.replace("{smol}", str(smol_path)) for a in args]
    result = subprocess.run([sys.executable, "-m", "trust_tui", *args], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
