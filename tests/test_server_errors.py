"""What a user sees when a server misbehaves: one line, a non-zero exit, no traceback, and a run
that is never `finished` with its items lost. Every case runs against a real local process
(tests/scripted_server.py, or a port with nothing listening), through the real CLI or api.run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from trust_tui.engine.run import api
from trust_tui.engine.run.loop import RunSpec
from trust_tui.engine.run.store import Store
from trust_tui.errors import BackendError

from scripted_server import ScriptedServer

DIMENSION = "robustness"  # the smallest dimension of trust-core quick


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trust_tui", "run", "--dimension", DIMENSION, "--quiet", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def store_path(home) -> str:
    found = [os.path.join(root, f) for root, _, files in os.walk(home) for f in files if f.endswith(".db")]
    assert found, f"no store under {home}"
    return found[0]


# --------------------------------------------------------------------------- before anything runs


def test_nothing_listening():
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = cli("--server", url)
    assert result.returncode == 6
    assert one_error_line(result) == (f"error: cannot reach {url}/models: connection refused "
                                      "(is the server running on that port?)")


def test_host_that_does_not_resolve():
    result = cli("--server", "http://no-such-host.invalid:8080/v1")
    assert result.returncode == 6
    assert "'no-such-host.invalid' does not resolve (DNS)" in one_error_line(result)


def test_not_a_url():
    result = cli("--server", "ftp://example.org/v1")
    assert result.returncode == 6
    assert "not an http(s) URL" in one_error_line(result)


def test_api_key_missing_wrong_unset_and_right(trust_home):
    with ScriptedServer(api_key="s3cret-key-123") as server:
        missing = cli("--server", server.url)
        wrong = cli("--server", server.url, "--api-key-env", "MY_KEY", env={"MY_KEY": "nope"})
        unset = cli("--server", server.url, "--api-key-env", "NOT_SET_ANYWHERE")
        right = cli("--server", server.url, "--api-key-env", "MY_KEY", env={"MY_KEY": "s3cret-key-123"})
    assert missing.returncode == wrong.returncode == unset.returncode == 6
    assert "HTTP 401: Invalid API key); it wants an API key" in one_error_line(missing)
    assert "the key in $MY_KEY was refused" in one_error_line(wrong)
    assert one_error_line(unset) == "error: --api-key-env NOT_SET_ANYWHERE: that environment variable is not set"
    assert right.returncode == 0, right.stderr
    assert "generated" in right.stdout
    with open(store_path(trust_home), "rb") as db:  # the key never reaches the store
        assert b"s3cret-key-123" not in db.read()


def test_unknown_model_lists_the_served_ones():
    with ScriptedServer() as server:
        result = cli("--server", server.url, "--server-model", "llama-9000")
    assert result.returncode == 6
    assert one_error_line(result) == (f"error: {server.url}/v1 has no model 'llama-9000'; "
                                      "it serves: scripted-model")


def test_non_json_model_list():
    with ScriptedServer(models_action="nonjson") as server:
        result = cli("--server", server.url)
    assert result.returncode == 6
    line = one_error_line(result)
    assert "answered 200 with something that is not JSON (text/html" in line and "API root" in line


def test_a_server_that_accepts_and_never_answers_is_noticed_in_bounded_time():
    with ScriptedServer(models_action="hang") as server:
        started = time.monotonic()
        result = cli("--server", server.url, "--server-timeout", "1")
        elapsed = time.monotonic() - started
    assert result.returncode == 6
    assert "accepted the request but sent nothing for 1 s" in one_error_line(result)
    assert elapsed < 15


# --------------------------------------------------------------------------- mid-run


def _run(url: str, **options):
    return api.run(None, RunSpec(dimensions=(DIMENSION,)),
                   api.BackendOptions(server=url, **options), store=Store())


def test_429_then_200_and_500_then_200_are_retried(trust_home):
    with ScriptedServer(script=["429", "500", "drop"]) as server:
        outcome = _run(server.url)
        faults = 3
        assert outcome.status == "finished" and outcome.skipped == 0
        assert server.chat_requests == outcome.generated + faults  # each fault cost one more request
        again = _run(server.url)
    assert again.generated == 0 and again.cached == outcome.total


def test_overloaded_past_the_retries_stops_interrupted_and_resumes(trust_home):
    with ScriptedServer(script=["ok"] * 5 + ["503"] * 500) as server:
        with pytest.raises(BackendError) as caught:
            _run(server.url, server_retries=2)
        message = str(caught.value)
        assert "is overloaded (HTTP 503: busy, try later) (3 tries)" in message
        assert "interrupted with 5 items kept: run the same command again to resume" in message
        store = Store()
        first = store.runs(limit=5)[0]
        assert first["status"] == "interrupted" and first["generated"] == 5
        server.script.clear()  # the server recovers
        before = server.chat_requests
        outcome = _run(server.url, server_retries=2)
    assert outcome.run_id == first["id"]  # the same run, resumed
    assert outcome.status == "finished"
    assert outcome.generated + outcome.cached == outcome.total
    assert outcome.cached >= 5
    assert server.chat_requests - before == outcome.generated  # nothing generated twice
    assert Store().run(outcome.run_id)["status"] == "finished"


def test_non_json_answers_mid_run_interrupt_the_run(trust_home):
    with ScriptedServer(script=["nonjson"] * 50) as server:
        result = cli("--server", server.url)
    assert result.returncode == 6
    line = one_error_line(result)
    assert "answered 200 without a single JSON event (text/html)" in line and "interrupted" in line
    assert Store().runs(limit=1)[0]["status"] == "interrupted"


def test_silent_mid_run_is_noticed_and_interrupts(trust_home):
    with ScriptedServer(script=["hang"] * 50) as server:
        started = time.monotonic()
        result = cli("--server", server.url, "--server-timeout", "1", "--server-retries", "1")
        elapsed = time.monotonic() - started
    assert result.returncode == 6
    line = one_error_line(result)
    assert "accepted the request but sent nothing for 1 s (--server-timeout) (2 tries)" in line
    assert elapsed < 30
    assert Store().runs(limit=1)[0]["status"] == "interrupted"


def test_the_run_records_which_server_answered_and_how_it_was_identified(trust_home):
    with ScriptedServer() as server:
        outcome = _run(server.url)
    run = Store().run(outcome.run_id)
    backend = json.loads(run["backend"])
    assert backend["kind"] == "server" and backend["server_kind"] == "openai-compatible"
    assert backend["fingerprint_source"] == "openai-compatible model name + answer probe"
    assert backend["servers"] == [f"{server.url}/v1"]
    assert run["model_id"] == f"server:openai-compatible:{backend['fingerprint']}"


def test_the_markdown_export_says_the_answers_came_from_a_server(trust_home):
    from trust_tui.export import markdown, report

    with ScriptedServer() as server:
        outcome = _run(server.url)
    store = Store()
    text = markdown.render(report.build(store, outcome.run_id))
    served = next(line for line in text.splitlines() if line.startswith("- **Served by:**"))
    assert f"answers from openai-compatible at {server.url}/v1 · model scripted-model" in served
    assert "identified by openai-compatible model name + answer probe" in served
    assert "- **Model:** `scripted-model` · behind a server, no local file read" in text


def test_an_unidentifiable_server_warns_and_never_reuses_answers(trust_home):
    with ScriptedServer() as server:
        server.probe_varies = True  # completes the greedy probe differently every time
        first = _run(server.url)
        second = _run(server.url)
        asserted = _run(server.url, fingerprint="team-llama-70b")
        asserted_again = _run(server.url, fingerprint="team-llama-70b")
    store = Store()
    row = store.run(first.run_id)
    assert row["template_warning"].startswith(f"cannot tell which model {server.url}/v1 serves "
                                              "(the server completed the same greedy prompt differently twice")
    assert row["model_id"].startswith("server:unidentified:")
    assert second.generated == first.generated > 0 and second.run_id != first.run_id
    assert asserted.generated > 0 and asserted_again.generated == 0
    assert not store.run(asserted.run_id)["template_warning"]


def test_a_model_file_and_a_server_together_are_refused(smol_path):
    result = cli(str(smol_path), "--server", "http://127.0.0.1:1/v1")
    assert result.returncode == 1
    assert "give a model file or --server, not both" in one_error_line(result)


def test_an_empty_event_stream_skips_the_item_and_a_server_sending_only_those_interrupts(trust_home):
    with ScriptedServer(script=["empty"]) as server:
        outcome = _run(server.url)
    assert outcome.status == "finished" and outcome.skipped == 1
    reason = Store().db.execute("select reason from run_items where status = 'skipped'").fetchone()[0]
    assert "ended the stream without an answer or an error" in reason and "--n_ctx" in reason
    with ScriptedServer(script=["empty"] * 100, weights="B") as server:  # another model: nothing cached
        with pytest.raises(BackendError, match=r"\(5 requests in a row\); run \d+ interrupted"):
            _run(server.url)
    assert Store().runs(limit=1)[0]["status"] == "interrupted"
