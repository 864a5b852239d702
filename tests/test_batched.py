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


# --------------------------------------------------------------------------- scheduling (issue 23)

from trust_tui.engine.backends.llamacpp import schedule  # noqa: E402


def test_split_follows_llama_cpp_sequential_equal_split():
    # sids 0, 1 and 3 decode one token each, sid 2 evaluates 5 prompt tokens
    decode_first = [0, 1, 3, 2, 2, 2, 2, 2]
    by_sid = [0, 1, 2, 2, 2, 2, 2, 3]
    # decode-first: the run 0,1,2 cannot take 3 (met before 2), so {0,1,2}, {3}, then sid 2's rest
    assert schedule.split_ubatches(decode_first, 512, unified=False) == [3, 1, 4]
    # by sid: one token of every sequence in the first micro-batch, sid 2's rest in the second
    assert schedule.split_ubatches(by_sid, 512, unified=False) == [4, 4]
    # consecutive prompting sequences share micro-batches, equal tokens each
    assert schedule.split_ubatches([0] * 6 + [1] * 4, 512, unified=False) == [8, 2]
    # a gap in the ids costs a micro-batch per run
    assert schedule.split_ubatches([0, 3, 9], 512, unified=False) == [1, 1, 1]
    assert schedule.split_ubatches([0, 1, 2], 512, unified=False) == [3]
    # n_ubatch bounds the tokens of one micro-batch; the unified cache takes tokens in order
    assert schedule.split_ubatches([0] * 10, 4, unified=False) == [4, 4, 2]
    assert schedule.split_ubatches([0, 5, 5, 1, 7] * 3, 4, unified=True) == [4, 4, 4, 3]


def test_the_plan_fills_the_batch_and_keeps_id_order():
    slots = [schedule.Slot(sid, decode=sid % 3 != 1, feed=0 if sid % 3 != 1 else 100 + sid,
                           order=15 - sid) for sid in range(16)]
    plan = schedule.plan_batch(slots, 256)
    ids = schedule.layout_ids(plan)
    assert len(ids) == 256  # filled to n_batch: 11 decode tokens and 245 prompt tokens
    assert ids == sorted(ids)  # sequence by sequence, in id order
    assert all(decode for sid, decode, _ in plan if sid % 3 != 1)  # every decode token is in
    # prompt room goes to the earliest admissions (the highest ids here, admitted first)
    takes = {sid: n for sid, _, n in plan if n}
    assert takes[13] == 113 and takes[10] == 110 and takes[7] == 256 - 11 - 113 - 110
    assert 4 not in takes and 1 not in takes
    # against the layout before issue 23 (decode tokens first): fewer micro-batches
    old = [sid for sid, d, _ in plan if d] + [sid for sid, _, n in plan for _ in range(n)]
    assert len(schedule.split_ubatches(ids, 512, False)) < len(schedule.split_ubatches(old, 512, False))


def test_a_plan_never_exceeds_n_batch_and_skips_sequences_waiting_for_a_sibling():
    slots = [schedule.Slot(0, True, 0, 0), schedule.Slot(1, False, 0, 1),  # 1 waits: feed 0
             schedule.Slot(2, False, 900, 2)]
    plan = schedule.plan_batch(slots, 512)
    assert plan == [(0, True, 0), (2, False, 511)]


def _prepared(rid, max_tokens, prompt_len=10, temperature=0.0):
    from trust_tui.engine.backends.llamacpp.batched import Prepared

    settings = GenSettings(max_tokens=max_tokens, temperature=temperature)
    return Prepared(Request(rid, "p", (), settings), list(range(prompt_len)), ())


def test_admission_starts_the_longest_expected_answers_first_within_its_window():
    from trust_tui.engine.backends.llamacpp.batched import _cost

    items = ([_prepared(f"a{i}", 8) for i in range(4)] + [_prepared(f"b{i}", 64) for i in range(4)]
             + [_prepared(f"c{i}", 32, prompt_len=20 - i) for i in range(3)])
    queue = schedule.Admission(iter(items), window=100, cost=_cost)
    order = [queue.next().request.id for _ in items]
    assert queue.next() is None and queue.done
    # longest budget first; a sub-task's items keep their order (their prompt heads stay
    # shared); within equal budgets the longer prompt first
    assert order == ["b0", "b1", "b2", "b3", "c0", "c1", "c2", "a0", "a1", "a2", "a3"]
    # the window bounds how far ahead it looks: with 2, the first item is chosen from a0, a1
    fifo = schedule.Admission(iter(items), window=1, cost=_cost)
    assert [fifo.next().request.id for _ in items] == [p.request.id for p in items]
    small = schedule.Admission(iter(items), window=3, cost=_cost)
    assert [small.next().request.id for _ in range(3)] == ["a0", "a1", "b0"]


def test_admission_learns_how_long_a_subtask_answers_really_are():
    from trust_tui.engine.backends.llamacpp.batched import _cost

    longish = [_prepared(f"l{i}", 64) for i in range(6)]
    medium = [_prepared(f"m{i}", 24, temperature=0.5) for i in range(3)]
    queue = schedule.Admission(iter(longish + medium), window=100, cost=_cost)
    first = [queue.next() for _ in range(3)]
    assert [p.request.id for p in first] == ["l0", "l1", "l2"]
    for p in first:  # a 64-token budget whose answers stop after 5 tokens
        queue.observe(p, 5)
    assert queue.expected(longish[3]) == 5.0
    assert queue.next().request.id == "m0"  # 24 expected now beats 5


def _schedule_run(backend, requests, **options):
    engine = BatchedEngine(backend, n_parallel=4, **options)
    done, streamed, errors = run_events(
        engine.run((backend.prepare(r) for r in requests), threading.Event()))
    assert not errors and set(done) == {r.id for r in requests}
    return done, engine.stats


@pytest.mark.model
def test_the_schedule_changes_how_batches_are_cut_not_the_answers(batched, plain_answers):
    requests = make_requests(batched)
    new, new_stats = _schedule_run(batched, requests)
    old, old_stats = _schedule_run(batched, requests, longest_first=False, layout="decode-first")
    # every token is decoded once either way; the layout cuts them into fewer micro-batches
    assert new_stats["prompt_tokens"] + new_stats["prompt_tokens_shared"] == sum(
        len(batched.prepare(r).tokens) for r in requests)
    assert new_stats["ubatches"] < old_stats["ubatches"]
    assert new_stats["ubatches"] / new_stats["steps"] < 2.0
    # the order of admission and the batch-mates differ; the answers are the plain loop's
    # (up to llama.cpp's batch-shape rounding, NOTES.md), and the same between the schedules
    same_new = sum(new[k].text == plain_answers[k].text for k in new)
    agree = sum(new[k].text == old[k].text for k in new)
    assert same_new >= len(new) - 2 and agree >= len(new) - 2


@pytest.mark.model
def test_sampled_answers_follow_their_own_seed_whatever_runs_beside_them(batched):
    # one sampler chain per sequence, seeded from its request: reversing the order of the
    # requests (other batch-mates, other sequence ids) leaves a sampled answer as it was
    base = make_requests(batched)
    sampled = [Request(r.id, r.prompt, r.messages,
                       GenSettings(max_tokens=r.settings.max_tokens, stop=r.settings.stop,
                                   temperature=0.9, seed=1000 + i)) for i, r in enumerate(base)]
    forward, _ = _schedule_run(batched, sampled, longest_first=False)
    backward, _ = _schedule_run(batched, list(reversed(sampled)), longest_first=False)
    same = sum(forward[k].text == backward[k].text for k in forward)
    assert same >= len(forward) - 2
    reseeded = [Request(r.id, r.prompt, r.messages, GenSettings(
        max_tokens=r.settings.max_tokens, stop=r.settings.stop, temperature=0.9, seed=7))
        for r in sampled]
    other, _ = _schedule_run(batched, reseeded, longest_first=False)
    assert sum(other[k].text == forward[k].text for k in forward) < same  # the seed matters
