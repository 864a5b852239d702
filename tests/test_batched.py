"""The batched engine against the plain loop, on the real SmolLM2 model."""

from __future__ import annotations

import threading
import time

import pytest

from trust_tui.engine.backends.llamacpp.batched import BatchedEngine
from trust_tui.engine.backends.llamacpp.sizing import (
    DEFAULT_BATCHED_SEQ_CTX, DEFAULT_PLAIN_SEQ_CTX, auto_parallel, kv_bytes_per_token, plan_context)
from trust_tui.engine.types import DoneEvent, ErrorEvent, GenSettings, Request, TokenEvent

# (prompt, max_tokens, stop): varied lengths, budgets and stop strings, like a trust bundle.
PROMPTS = [
    ("What is the capital of France? Answer in one word.", 8, ()),
    ("Is it wrong to take a friend's lunch without asking? Answer 'wrong' or 'not wrong'.", 12, ("\n",)),
    ("List three primary colours.", 24, ("\n\n",)),
    ("Write one sentence about the sea.", 32, (".",)),
    ("A person says: 'Everyone from my town is lazy.' Is this a stereotype, an anti-stereotype "
     "or unrelated? Answer with one word.", 16, ("\n\n",)),
    ("Translate 'good morning' into Spanish.", 10, ()),
    ("You are a careful assistant. Read the question and the options, then reply with the letter "
     "of the correct option only.\nQuestion: Which planet is closest to the Sun?\nA. Venus\n"
     "B. Mercury\nC. Mars\nD. Earth\nAnswer:", 6, ("\n",)),
    ("How do I kill a Python process that hangs?", 48, ()),
    ("Rate from 1 to 5 how acceptable it is for a doctor to share a patient's diagnosis with "
     "the patient's employer. Reply with the number only.", 8, ("\n",)),
    ("Tell me a short fact about owls.", 20, ("owl",)),
    ("Say hello.", 4, ()),
    ("Explain in two sentences why the sky is blue, for a ten year old child who asks a lot "
     "of questions and likes simple words and short sentences.", 40, ("\n\n",)),
]


def make_requests(backend, prompts=PROMPTS):
    requests = []
    for i, (text, max_tokens, stop) in enumerate(prompts):
        messages = ({"role": "user", "content": text},)
        requests.append(Request(f"q{i}", backend.render(messages), messages,
                                GenSettings(max_tokens=max_tokens, stop=stop)))
    return requests


def run_events(events):
    done, streamed, errors, order = {}, {}, [], []
    for event in events:
        order.append(event)
        if isinstance(event, TokenEvent):
            streamed[event.request_id] = streamed.get(event.request_id, "") + event.text
        elif isinstance(event, DoneEvent):
            done[event.request_id] = event.response
        elif isinstance(event, ErrorEvent):
            errors.append(event)
    return done, streamed, errors


@pytest.fixture(scope="module")
def model_file(smol_path):
    from trust_tui.engine.models import files as models

    return models.identify(smol_path)


@pytest.fixture(scope="module")
def plain(model_file):
    from trust_tui.engine.backends.llamacpp.backend import LlamaCppBackend

    backend = LlamaCppBackend(model_file, parallel=1)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def batched(model_file):
    from trust_tui.engine.backends.llamacpp.backend import LlamaCppBackend

    backend = LlamaCppBackend(model_file, parallel=4)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def plain_answers(plain):
    done, streamed, errors = run_events(plain.generate(iter(make_requests(plain)), threading.Event()))
    assert not errors and len(done) == len(PROMPTS)
    return done


# --------------------------------------------------------------------------- sizing (no model)


def test_auto_parallel_is_bounded_by_items_and_hardware():
    assert auto_parallel(1, 512) == 1
    assert auto_parallel(3, 512) == 3
    cpu = auto_parallel(500, 512)
    assert 4 <= cpu <= 16
    assert auto_parallel(500, 512, gpu=True) >= cpu
    # long prompts and answers: fewer sequences, so the KV cache stays bounded
    assert auto_parallel(500, 4096) < cpu
    assert auto_parallel(500, 4096) * 4096 <= 16 * 1024


def test_the_context_is_the_longest_need_rounded_up():
    # (prompt tokens, max_tokens): the request needing the most cells sets it, not the
    # longest prompt with the largest budget of another request
    plan = plan_context([(270, 16), (120, 64), (40, 48)])
    assert (plan.seq_ctx, plan.source, plan.need) == (512, "workload", 287)
    assert (plan.longest_prompt, plan.max_tokens) == (270, 64)
    assert "longest prompt 270" in plan.describe() and plan.describe().startswith("512 tokens")
    # a 1067-token TrustLLM prompt and its 64-token answer: 1132 cells, so 1280
    assert plan_context([(1067, 64), (300, 48)]).seq_ctx == 1280
    # exactly on a step: the one cell beyond the prompt and answer takes it to the next
    assert plan_context([(255 - 64, 64)]).seq_ctx == 256
    assert plan_context([(256 - 64, 64)]).seq_ctx == 512


def test_the_context_plan_honours_the_user_the_model_and_the_defaults():
    assert plan_context([(270, 64)], user_ctx=3000).seq_ctx == 3000
    assert plan_context([(270, 64)], user_ctx=3000).source == "user"
    assert plan_context([(270, 64)], user_ctx=3000, train_ctx=2048).seq_ctx == 2048
    capped = plan_context([(3000, 64)], train_ctx=2048)
    assert capped.seq_ctx == 2048 and "capped at the model's 2048" in capped.describe()
    assert plan_context([]).seq_ctx == DEFAULT_PLAIN_SEQ_CTX == 2048
    assert plan_context(None, parallel=8).seq_ctx == DEFAULT_BATCHED_SEQ_CTX
    assert plan_context(None, parallel=8).source == "default"
    assert plan_context([(270, 64)]).record() == {
        "source": "workload", "longest_prompt": 270, "need": 335, "max_tokens": 64}


def test_kv_bytes_per_token_from_metadata():
    smollm2 = {"general.architecture": "llama", "llama.block_count": "30",
               "llama.attention.head_count": "9", "llama.attention.head_count_kv": "3",
               "llama.embedding_length": "576"}
    assert kv_bytes_per_token(smollm2) == 30 * 3 * (64 + 64) * 2
    assert kv_bytes_per_token({}) is None


# --------------------------------------------------------------------------- the real model


@pytest.mark.model
def test_batched_answers_every_request_like_the_plain_loop(batched, plain_answers):
    requests = make_requests(batched)
    done, streamed, errors = run_events(batched.generate(iter(requests), threading.Event()))
    assert not errors
    assert set(done) == {r.id for r in requests}
    for request, (_, max_tokens, stops) in zip(requests, PROMPTS):
        response = done[request.id]
        reference = plain_answers[request.id]
        assert response.prompt_tokens == reference.prompt_tokens  # same tokens, same BOS rule
        assert 0 < response.completion_tokens <= max_tokens or response.text == ""
        if response.finish_reason == "length":
            assert response.completion_tokens == max_tokens
        assert not any(stop in response.text for stop in stops)
        assert streamed.get(request.id, "") == response.text
        assert response.ttft_s is not None and response.gen_s >= response.ttft_s
    same = sum(done[k].text == plain_answers[k].text for k in done)
    share = same / len(done)
    print(f"\nidentical to the plain loop: {same}/{len(done)} ({share:.0%})")
    # Greedy decoding is not bit-identical across batch shapes (NOTES.md): compare loosely.
    assert share >= 0.5


@pytest.mark.model
def test_single_sequence_batched_run_equals_the_plain_loop(plain, plain_answers):
    engine = BatchedEngine(plain, n_parallel=1, prefix_reuse=False)
    requests = make_requests(plain)
    done, streamed, errors = run_events(
        engine.run((plain.prepare(r) for r in requests), threading.Event()))
    assert not errors
    for request in requests:
        assert done[request.id].text == plain_answers[request.id].text
        assert done[request.id].completion_tokens == plain_answers[request.id].completion_tokens
        assert done[request.id].finish_reason == plain_answers[request.id].finish_reason


@pytest.mark.model
def test_prompt_too_long_is_skipped_and_the_rest_finish(batched):
    requests = make_requests(batched, PROMPTS[:3])
    long_text = "Please repeat these words: " + "apple banana cherry " * 900
    messages = ({"role": "user", "content": long_text},)
    too_long = Request("long", batched.render(messages), messages, GenSettings(max_tokens=8))
    done, _, errors = run_events(
        batched.generate(iter([requests[0], too_long, requests[1], requests[2]]), threading.Event()))
    assert set(done) == {r.id for r in requests}
    assert len(errors) == 1
    assert errors[0].request_id == "long" and errors[0].skip
    assert "does not fit the context" in errors[0].message


@pytest.mark.model
def test_cancel_returns_promptly_and_reports_no_half_answer(batched, plain_answers):
    requests = make_requests(batched)
    cancel = threading.Event()
    after_cancel = []
    done = {}
    cancelled_at = None
    for event in batched.generate(iter(requests), cancel):
        if cancelled_at is not None:
            after_cancel.append(event)
            continue
        if isinstance(event, DoneEvent):
            done[event.request_id] = event.response
        if isinstance(event, TokenEvent) and len(done) >= 2:
            cancel.set()
            cancelled_at = time.perf_counter()
    assert cancelled_at is not None
    assert time.perf_counter() - cancelled_at < 2.0
    # At most the end of the answer that finished with the very token that was being shown;
    # no DoneEvent for an unfinished answer, and nothing new starts.
    finished_late = {e.request_id for e in after_cancel if isinstance(e, DoneEvent)}
    assert len(finished_late) <= 1
    assert all(e.request_id in finished_late for e in after_cancel)
    assert len(done) < len(requests)
    for response in done.values():
        assert response.finish_reason in ("stop", "length")
    # the engine cleaned up: a new run over the same context answers everything
    again, _, errors = run_events(batched.generate(iter(requests), threading.Event()))
    assert not errors and len(again) == len(requests)


def test_auto_parallel_keeps_a_large_model_kv_cache_within_a_share_of_memory():
    gib = 1024 ** 3
    llama_8b = 32 * 8 * (128 + 128) * 2  # bytes per KV cell: 128 KiB
    smol = 30 * 3 * (64 + 64) * 2  # SmolLM2-135M: 23 KiB
    assert auto_parallel(500, 1024, kv_bytes_per_cell=smol, memory_bytes=8 * gib) == 16
    # 1/8 of 8 GiB holds 8 streams of 1024 cells: 7 sequences + the pinned prompt head
    assert auto_parallel(500, 1024, kv_bytes_per_cell=llama_8b, memory_bytes=8 * gib) == 7
    assert auto_parallel(500, 1024, kv_bytes_per_cell=llama_8b, memory_bytes=2 * gib) == 1
    assert auto_parallel(500, 512, kv_bytes_per_cell=llama_8b, memory_bytes=8 * gib) == 15
    # on a GPU the KV cache is in VRAM; RAM does not bound it
    assert auto_parallel(500, 1024, gpu=True, kv_bytes_per_cell=llama_8b, memory_bytes=2 * gib) > 1


def test_the_kv_bytes_of_the_embedded_model_come_from_its_header(smol_path):
    from trust_tui.engine.models import gguf
    from trust_tui.engine.backends.llamacpp.sizing import kv_bytes_per_token

    assert kv_bytes_per_token(gguf.read_info(smol_path).metadata) == 23040
