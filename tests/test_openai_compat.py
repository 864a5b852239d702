"""OpenAICompatBackend against a scripted local SSE server (tests/scripted_server.py).

The real llama_cpp.server runs in tests/test_server_llama_cpp.py."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from trust_tui.engine.backends.openai_compat import OpenAICompatBackend, canonical_messages
from trust_tui.engine.types import DoneEvent, GenSettings, Request, TokenEvent
from trust_tui.errors import BackendError

from scripted_server import ScriptedServer as FakeServer, expected


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
        # identified by the answer probe, not by the URL and name
        assert backend.info.model_id.startswith("server:openai-compatible:")
        assert server.url not in backend.info.model_id
        assert backend.info.settings["fingerprint_source"] == "openai-compatible model name + answer probe"
        assert not backend.info.template_warning
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
    assert body["temperature"] == 0.0 and body["model"] == "scripted-model"
    assert body["top_k"] == 40 and body["repeat_penalty"] == 1.0  # llama.cpp-family fields sent


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


def test_unreachable_server_is_one_line_before_anything_runs():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError) as caught:
        OpenAICompatBackend(url, model="m", concurrency=3)
    message = str(caught.value)
    assert "connection refused" in message and url in message and "\n" not in message


def test_rejected_request_is_skipped_and_the_rest_finish():
    with FakeServer() as server:
        backend = OpenAICompatBackend(server.url, concurrency=2)
        done, _, errors = collect(backend, requests_for(["fine", "BAD one", "also fine"]))
    assert set(done) == {"r0", "r2"}
    assert len(errors) == 1 and errors[0].request_id == "r1" and errors[0].skip
    assert "HTTP 400" in errors[0].message and "\n" not in errors[0].message


def test_context_exceeded_is_skipped_with_the_servers_reason():
    with FakeServer() as server:
        backend = OpenAICompatBackend(server.url, concurrency=1)
        done, _, errors = collect(backend, requests_for(["fine", "a LONG prompt"]))
    assert set(done) == {"r0"}
    assert errors[0].skip and errors[0].message.startswith(f"{backend.base_url}: context exceeded: ")
    assert "maximum context length is 512" in errors[0].message


def test_the_same_model_gets_the_same_key_and_swapped_weights_a_new_one():
    with FakeServer(weights="A") as server:
        first = OpenAICompatBackend(server.url).info.model_id
        again = OpenAICompatBackend(server.url).info.model_id
        server.weights = "B"  # another model under the same name, same URL
        swapped = OpenAICompatBackend(server.url).info.model_id
    assert first == again
    assert swapped != first


def test_user_fingerprint_and_model_file_decide_the_key():
    with FakeServer() as server:
        asserted = OpenAICompatBackend(server.url, fingerprint="llama3-8b q4 from the lab")
        named = OpenAICompatBackend(server.url, model_file={"sha256": "ab" * 32, "file_name": "m.gguf"})
    assert asserted.info.model_id == "server:asserted:llama3-8b_q4_from_the_lab"
    assert asserted.info.settings["fingerprint_source"] == "asserted with --fingerprint"
    assert named.info.model_id == f"server:openai-compatible:gguf:{'ab' * 32}"
    assert named.info.model_name == "m.gguf"


def test_unknown_model_lists_what_the_server_has():
    with FakeServer() as server:
        with pytest.raises(BackendError) as caught:
            OpenAICompatBackend(server.url, model="llama-9000")
    assert str(caught.value) == f"{server.url}/v1 has no model 'llama-9000'; it serves: scripted-model"


def test_several_servers_share_the_work():
    with FakeServer(delay=0.01) as one, FakeServer(delay=0.01) as two:
        backend = OpenAICompatBackend([one.url, two.url], concurrency=2)
        assert backend.info.parallel == 4 and backend.info.settings["servers"] == [f"{one.url}/v1", f"{two.url}/v1"]
        done, _, errors = collect(backend, requests_for([f"q{i}" for i in range(12)]))
    assert not errors and len(done) == 12
    assert len(one.bodies) >= 3 and len(two.bodies) >= 3  # both took a share


def test_servers_with_different_models_are_refused():
    with FakeServer(weights="A") as one, FakeServer(weights="B") as two:
        with pytest.raises(BackendError, match="do not serve the same model"):
            OpenAICompatBackend([one.url, two.url])


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


def test_sampler_fields_a_server_rejects_are_dropped_and_recorded():
    with FakeServer() as server:
        server.strict_fields = True
        backend = OpenAICompatBackend(server.url, concurrency=1)
        done, _, errors = collect(backend, requests_for(["one", "two"]))
    assert not errors and len(done) == 2
    assert "top_k" not in server.bodies[-1] and "stream_options" not in server.bodies[-1]
    assert "top_k" in backend.info.context["server_dropped"]  # written beside the run's scores
