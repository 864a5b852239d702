"""Many sequences decoded together in one llama.cpp context (continuous batching).

The shape of llama.cpp's ``examples/parallel``: one ``llama_batch`` per step holding the next
token of every sequence that is generating *and* prompt chunks of newly admitted sequences, one
sequence id per prompt, a slot refilled from the request iterator as soon as its sequence ends,
and the finished sequence's KV cells released with ``llama_memory_seq_rm``.

What a sequence produces is what the plain loop (``LlamaCppBackend._generate_one``) produces for
the same request: the same prompt tokens (``Prepared``), the same sampler chain (llama-cpp-python's
``Llama.generate``: penalties(repeat_penalty, last 64) then greedy, or top-k/typical/top-p/min-p/
temp/dist(seed) when sampling, one chain per sequence seeded from its own request, so the result
does not depend on which requests share a batch), the same budget, the same ``TextStream`` stop
handling and EOG rule, the same events. Logits are not bit-identical across batch shapes in
llama.cpp, so a greedy answer can still diverge from the plain loop's after some tokens; with
one KV stream per sequence (the default, ``kv_unified`` off) that is rare.

Shared prompt heads (the chat template's system block, a sub-task's instructions) are evaluated
once: a sequence whose prompt starts like a sibling's copies the sibling's cells with
``llama_memory_seq_cp`` (waiting a step if the sibling is still evaluating them) instead of
recomputing them. The most recent common head is pinned to a spare sequence id so it survives
between prompts. In a unified KV cache a copy only tags the cells; across KV streams llama.cpp
copies the whole stream and the tail is dropped, which costs far less than the tokens it saves.

Scheduling (schedule.py): requests are pulled a few per sequence ahead and the longest expected
answers start first, so a run does not end on one or two sequences generating alone; a batch is
laid out sequence by sequence in id order and sequences take the lowest free id, so llama.cpp
cuts it into as few micro-batches as its per-stream split allows.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from trust_tui.engine.backends.llamacpp import schedule
from trust_tui.engine.backends.llamacpp.sizing import (
    DEFAULT_CELLS_PER_SEQ, DEFAULT_KV_UNIFIED, DEFAULT_N_BATCH, DEFAULT_N_UBATCH, open_context)
from trust_tui.engine.backends.textstream import TextStream
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Request, Response, TokenEvent


# Prompts start being shared only when at least this many leading tokens match: below that, the
# bookkeeping costs more than re-evaluating a few tokens.
MIN_SHARED_PREFIX = 8
# Requests pulled ahead of admission, per sequence decoded together: enough to start a later
# sub-task's long answers before an earlier one's short ones (schedule.Admission).
LOOKAHEAD_PER_SEQ = 4


@dataclass(frozen=True)
class Prepared:
    """A request ready for decoding: prompt tokens and the stop strings to apply."""

    request: Request
    tokens: list[int]
    stops: tuple[str, ...]


# --------------------------------------------------------------------------- the engine


def _common_prefix(a: list[int], b: list[int], limit: int) -> int:
    n = 0
    limit = min(limit, len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def _cost(prepared: Prepared) -> tuple[Any, int, int]:
    """What schedule.Admission orders by: the generation settings (one sub-task's), the answer
    budget and the prompt length."""
    settings = prepared.request.settings
    return settings, settings.max_tokens, len(prepared.tokens)


@dataclass(eq=False)
class _Seq:
    sid: int
    prepared: Prepared
    sampler: Any
    stream: TextStream
    budget: int
    started: float
    feed: list[int]  # prompt tokens not yet decoded
    n_past: int = 0  # positions of this sequence already in the KV cache
    generated: list[int] = field(default_factory=list)
    next_token: int | None = None  # sampled, not yet decoded
    in_batch: int = 0  # prompt tokens of this sequence in the current batch
    out: int = -1  # index of this sequence's logits in the current batch
    first_token_at: float | None = None
    wait_for: "tuple[_Seq, int] | None" = None  # (sibling, n): copy n cells once it has them
    order: int = 0  # admission number: earlier admissions get prompt room first

    @property
    def request_id(self) -> str:
        return self.prepared.request.id

    @property
    def tokens(self) -> list[int]:
        return self.prepared.tokens

    @property
    def reserved(self) -> int:
        """Cells this sequence may come to hold (counted whole, shared or not: conservative)."""
        return len(self.prepared.tokens) + self.budget

    @property
    def prompt_in_cache(self) -> int:
        return 0 if self.wait_for else min(self.n_past, len(self.prepared.tokens))


class BatchedEngine:
    """Decodes up to ``n_parallel`` requests at a time in one context; see the module doc."""

    def __init__(self, backend: Any, n_parallel: int, prefix_reuse: bool | None = None,
                 longest_first: bool = True, layout: str = "by-sid"):
        """``longest_first`` and ``layout`` ("by-sid", or "decode-first": every decode token,
        then the prompt chunks, as before issue 23) exist to measure what each gains
        (bench/throughput.py --schedule); the defaults are the fast ones."""
        import llama_cpp

        self._ll = llama_cpp
        self.backend = backend
        self.n_parallel = max(1, int(n_parallel))
        context = getattr(backend, "batch_context", None)
        self._own_context = None
        if context is None or int(context.params.n_seq_max) < self.n_parallel:
            # A backend built for the plain loop: this run gets a context of its own.
            n_seq_max = self.n_parallel + 1
            cells = (max(backend.seq_ctx, DEFAULT_CELLS_PER_SEQ * self.n_parallel)
                     if DEFAULT_KV_UNIFIED else backend.seq_ctx * n_seq_max)
            context = open_context(
                backend.llm._model, n_ctx=cells, n_batch=DEFAULT_N_BATCH,
                n_ubatch=DEFAULT_N_UBATCH, n_seq_max=n_seq_max, kv_unified=DEFAULT_KV_UNIFIED,
                n_threads=backend.n_threads)
            self._own_context = context
        self.context = context
        self.ctx = context.ctx
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.n_batch = int(llama_cpp.llama_n_batch(self.ctx))
        self.n_cells = int(llama_cpp.llama_n_ctx(self.ctx))
        n_seq_max = int(context.params.n_seq_max)
        self.kv_unified = bool(context.params.kv_unified)
        # Each sequence owns n_ctx / n_seq_max cells unless the cache is unified.
        self.stream_cells = self.n_cells if self.kv_unified else self.n_cells // n_seq_max
        self.seq_ctx = min(backend.seq_ctx, self.stream_cells)
        if prefix_reuse is None:
            prefix_reuse = getattr(backend, "prefix_reuse", True)
        self.prefix_reuse = bool(prefix_reuse)
        if layout not in ("by-sid", "decode-first"):
            raise ValueError(f"unknown batch layout {layout!r}")
        self.longest_first = bool(longest_first)
        self.layout = layout
        self.n_ubatch = int(llama_cpp.llama_n_ubatch(self.ctx))
        # A spare sequence id keeps the most recent shared prompt head in the cache.
        self.prefix_sid = self.n_parallel if n_seq_max > self.n_parallel else -1
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(backend._vocab))
        self.last_n = int(getattr(backend.llm, "last_n_tokens_size", 64))
        self._pinned: list[int] = []  # the prompt head whose cells prefix_sid holds
        self._last_prompt: list[int] = []
        self._kv_tight = False
        self.stats: dict[str, float] = {
            "steps": 0, "batch_tokens": 0, "prompt_tokens": 0, "prompt_tokens_shared": 0,
            "generated_tokens": 0, "decode_seconds": 0.0, "kv_full_retries": 0, "max_active": 0,
            "ubatches": 0,  # micro-batches llama.cpp cut the batches into (schedule.split_ubatches)
        }
        self._admitted = 0
        self._batch_ids: list[int] = []  # each token's sequence id in the current batch

    # ------------------------------------------------------------------ the loop

    def run(self, prepared: Iterator[Prepared], cancel: threading.Event) -> Iterator[Event]:
        ll = self._ll
        batch = ll.llama_batch_init(self.n_batch, 0, 1)
        # A heap: the lowest free id first, so running sequences stay one run of consecutive
        # ids, which llama.cpp decodes as one micro-batch (schedule.py).
        free = list(range(self.n_parallel))
        active: list[_Seq] = []
        window = LOOKAHEAD_PER_SEQ * self.n_parallel if self.longest_first else 1
        queue = schedule.Admission(prepared, window, _cost)
        waiting = None  # taken from the queue, waiting for room in the KV cache
        ll.llama_memory_clear(self.mem, False)
        self._pinned, self._last_prompt = [], []
        try:
            while not cancel.is_set():
                while free and not cancel.is_set():
                    if waiting is None:
                        waiting = queue.next()
                        if waiting is None:
                            break
                    problem = self._too_long(waiting)
                    if problem:
                        yield ErrorEvent(waiting.request.id, problem)
                        waiting = None
                        continue
                    seq = self._admit(waiting, free, active)
                    if seq is None:
                        break  # the KV cache has no room until a sequence ends
                    active.append(seq)
                    waiting = None
                if not active:
                    return
                self.stats["max_active"] = max(self.stats["max_active"], len(active))
                self._resolve_waits(active)
                self._fill(batch, active)
                started = time.perf_counter()
                status = ll.llama_decode(self.ctx, batch)
                if status == 1 and self._drop_prompts(batch, active):
                    status = ll.llama_decode(self.ctx, batch)
                self.stats["decode_seconds"] += time.perf_counter() - started
                if status != 0:
                    yield ErrorEvent(active[0].request_id, f"llama.cpp could not decode a batch of "
                                     f"{batch.n_tokens} tokens (status {status})", skip=False)
                    return
                self.stats["steps"] += 1
                self.stats["batch_tokens"] += batch.n_tokens
                self.stats["ubatches"] += len(schedule.split_ubatches(
                    self._batch_ids, self.n_ubatch, self.kv_unified))
                for seq in active:
                    self._commit(seq)
                self._resolve_waits(active)  # before a sibling that just finished is released
                # Sample in batch order; a sequence that ends frees its slot for the next request.
                for seq in sorted((s for s in active if s.out >= 0), key=lambda s: s.out):
                    ended = yield from self._sample(seq, cancel)
                    if cancel.is_set():
                        return
                    if ended:
                        queue.observe(seq.prepared, len(seq.generated))
                        active.remove(seq)
                        self._release(seq, free)
        finally:
            for seq in active:
                ll.llama_sampler_free(seq.sampler)
            ll.llama_memory_clear(self.mem, False)
            ll.llama_batch_free(batch)
            if self._own_context is not None:
                self._own_context.close()
                self._own_context = None

    # ------------------------------------------------------------------ admission

    def _too_long(self, prepared: Prepared) -> str | None:
        n = len(prepared.tokens)
        if n + 1 > self.seq_ctx:  # the plain loop's rule
            return f"prompt of {n} tokens does not fit the context of {self.seq_ctx} tokens"
        return None

    def _admit(self, prepared: Prepared, free: list[int], active: list[_Seq]) -> _Seq | None:
        tokens = prepared.tokens
        settings = prepared.request.settings
        budget = min(settings.max_tokens, self.seq_ctx - len(tokens))
        if active and self.kv_unified:
            in_use = sum(s.reserved for s in active) + len(self._pinned)
            if self._kv_tight or in_use + len(tokens) + budget > self.n_cells:
                return None
        grammar = getattr(prepared.request, "grammar", None)  # a judge request (judge/engine.py)
        seq = _Seq(sid=heapq.heappop(free), prepared=prepared,
                   sampler=self._sampler(settings, grammar), stream=TextStream(prepared.stops),
                   budget=budget, started=time.perf_counter(), feed=list(tokens),
                   order=self._admitted)
        self._admitted += 1
        if self.prefix_reuse:
            source, n = self._best_source(tokens, active, evaluated_only=False)
            if source is not None:
                if source == "pinned" or source.prompt_in_cache >= n:
                    self._share(seq, source, n)
                else:
                    seq.wait_for = (source, n)  # a sibling is still evaluating that head
        return seq

    def _best_source(self, tokens: list[int], active: list[_Seq], evaluated_only: bool):
        """The pinned head or the active sequence sharing the longest prompt head with
        ``tokens`` (at least MIN_SHARED_PREFIX tokens; one token is always left to decode)."""
        limit = len(tokens) - 1
        best, best_n = None, MIN_SHARED_PREFIX - 1
        if self._pinned and self.prefix_sid >= 0:
            n = _common_prefix(self._pinned, tokens, limit)
            if n > best_n:
                best, best_n = "pinned", n
        for other in active:
            if other.wait_for:
                continue
            n = _common_prefix(other.tokens, tokens, limit)
            if evaluated_only:
                n = min(n, other.prompt_in_cache)
            if n > best_n:
                best, best_n = other, n
        return best, (best_n if best is not None else 0)

    def _resolve_waits(self, active: list[_Seq]) -> None:
        for seq in active:
            if seq.wait_for is None:
                continue
            source, n = seq.wait_for
            if source in active and source.prompt_in_cache < n:
                continue
            seq.wait_for = None
            if source not in active:  # it ended meanwhile: take what is still in the cache
                source, n = self._best_source(seq.tokens, active, evaluated_only=True)
            if source is not None:
                self._share(seq, source, n)

    def _share(self, seq: _Seq, source: "_Seq | str", n: int) -> None:
        """Give ``seq`` the cells of the first ``n`` prompt positions of ``source``."""
        src = self.prefix_sid if source == "pinned" else source.sid
        self._copy_cells(src, seq.sid, n)
        seq.feed = list(seq.tokens[n:])
        seq.n_past = n
        self.stats["prompt_tokens_shared"] += n

    def _copy_cells(self, src: int, dst: int, n: int) -> None:
        ll = self._ll
        if self.kv_unified:  # tags the same cells with one more sequence id: no data moves
            ll.llama_memory_seq_cp(self.mem, src, dst, 0, n)
        else:  # separate streams: llama.cpp copies a whole stream, then the tail is dropped
            ll.llama_memory_seq_rm(self.mem, dst, -1, -1)
            ll.llama_memory_seq_cp(self.mem, src, dst, -1, -1)
            ll.llama_memory_seq_rm(self.mem, dst, n, -1)

    def _pin(self, seq: _Seq) -> None:
        """``seq``'s prompt is in the cache: keep the head it shares with the previous prompt
        under the spare sequence id when that beats what is pinned for prompts like it."""
        if not self.prefix_reuse or self.prefix_sid < 0:
            return
        tokens = seq.tokens
        head = _common_prefix(self._last_prompt, tokens, len(tokens) - 1)
        self._last_prompt = tokens
        if head < MIN_SHARED_PREFIX or head <= _common_prefix(self._pinned, tokens, len(tokens)):
            return
        self._ll.llama_memory_seq_rm(self.mem, self.prefix_sid, -1, -1)
        self._copy_cells(seq.sid, self.prefix_sid, head)
        self._pinned = list(tokens[:head])

    def _sampler(self, settings: Any, grammar: str | None = None) -> Any:
        """The chain llama-cpp-python 0.3.36's ``Llama.generate`` builds (``_init_sampler``),
        with a GBNF grammar after the penalties where the request carries one, as it does."""
        ll = self._ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        add = ll.llama_sampler_chain_add
        add(chain, ll.llama_sampler_init_penalties(
            self.n_vocab, self.last_n, settings.repeat_penalty, 0.0, 0.0))
        if grammar:
            constrained = ll.llama_sampler_init_grammar(
                self.backend._vocab, grammar.encode("utf-8"), b"root")
            if not constrained:
                ll.llama_sampler_free(chain)
                from trust_tui.errors import BackendError

                raise BackendError("llama.cpp rejected the grammar of a judge request")
            add(chain, constrained)
        temp = settings.temperature
        if temp < 0.0:
            add(chain, ll.llama_sampler_init_dist(settings.seed))
        elif temp == 0.0:
            add(chain, ll.llama_sampler_init_greedy())
        else:
            add(chain, ll.llama_sampler_init_top_k(settings.top_k))
            add(chain, ll.llama_sampler_init_typical(1.0, 1))
            add(chain, ll.llama_sampler_init_top_p(settings.top_p, 1))
            add(chain, ll.llama_sampler_init_min_p(settings.min_p, 1))
            add(chain, ll.llama_sampler_init_temp(temp))
            add(chain, ll.llama_sampler_init_dist(settings.seed))
        return chain

    # ------------------------------------------------------------------ one step

    def _fill(self, batch: Any, active: list[_Seq], prompts: bool = True) -> None:
        """The next token of every generating sequence and prompt chunks up to n_batch, laid
        out sequence by sequence in id order (schedule.plan_batch says why)."""
        token, pos, n_seq_id, seq_id, logits = (
            batch.token, batch.pos, batch.n_seq_id, batch.seq_id, batch.logits)
        slots = [schedule.Slot(s.sid, s.next_token is not None,
                               len(s.feed) if prompts and s.wait_for is None else 0, s.order)
                 for s in active]
        plan = schedule.plan_batch(slots, self.n_batch)
        if self.layout == "decode-first":
            plan = ([(sid, True, 0) for sid, decode, _ in plan if decode]
                    + [(sid, False, take) for sid, _, take in plan if take])
        by_sid = {seq.sid: seq for seq in active}
        for seq in active:
            seq.out = -1
            seq.in_batch = 0
        n = 0
        for sid, decode, take in plan:
            seq = by_sid[sid]
            if decode:
                token[n], pos[n], n_seq_id[n], logits[n] = seq.next_token, seq.n_past, 1, 1
                seq_id[n][0] = sid
                seq.out = n
                n += 1
            if take:
                base, feed = seq.n_past, seq.feed
                for i in range(take):
                    token[n], pos[n], n_seq_id[n], logits[n] = feed[i], base + i, 1, 0
                    seq_id[n][0] = sid
                    n += 1
                if take == len(feed):
                    logits[n - 1] = 1  # the prompt's last token gives the first answer token
                    seq.out = n - 1
                seq.in_batch = take
        batch.n_tokens = n
        self._batch_ids = schedule.layout_ids(plan)

    def _drop_prompts(self, batch: Any, active: list[_Seq]) -> bool:
        """No KV room for the whole batch: retry with the generating tokens only, and admit
        nothing new until a sequence ends."""
        n_decode = sum(1 for s in active if s.next_token is not None)
        if n_decode == 0 or n_decode == batch.n_tokens:
            return False
        self.stats["kv_full_retries"] += 1
        self._kv_tight = True
        self._fill(batch, active, prompts=False)
        return True

    def _commit(self, seq: _Seq) -> None:
        """Account for what the last batch put into the cache for ``seq``."""
        if seq.next_token is not None and seq.out >= 0:
            seq.n_past += 1
            seq.next_token = None
        if seq.in_batch:
            self.stats["prompt_tokens"] += seq.in_batch
            seq.n_past += seq.in_batch
            del seq.feed[:seq.in_batch]
            seq.in_batch = 0
            if not seq.feed:
                self._pin(seq)

    def _sample(self, seq: _Seq, cancel: threading.Event) -> Iterator[Event]:
        """Sample ``seq``'s next token and apply the plain loop's rules; True when it ended.

        As in the plain loop, an answer that ends with the token being shown when the caller
        cancels is still reported; an unfinished one never is."""
        token = self._ll.llama_sampler_sample(seq.sampler, self.ctx, seq.out)
        if seq.first_token_at is None:
            seq.first_token_at = time.perf_counter()
        backend = self.backend
        finish = None
        if backend.is_eog(token):
            finish = "stop"
        else:
            seq.generated.append(token)
            self.stats["generated_tokens"] += 1
            piece = backend.llm.detokenize([token], prev_tokens=seq.tokens + seq.generated[:-1])
            text = seq.stream.feed(piece)
            if text:
                yield TokenEvent(seq.request_id, text)
            if seq.stream.stopped:
                finish = "stop"
            elif len(seq.generated) >= seq.budget:
                finish = "length"
            elif cancel.is_set():
                return False
            else:
                seq.next_token = token
        if finish is None:
            return False
        tail = seq.stream.finish()
        if tail:
            yield TokenEvent(seq.request_id, tail)
        ended = time.perf_counter()
        yield DoneEvent(seq.request_id, Response(
            text=seq.stream.text, prompt_tokens=len(seq.tokens),
            completion_tokens=len(seq.generated), finish_reason=finish,
            ttft_s=seq.first_token_at - seq.started, gen_s=ended - seq.started,
        ))
        return True

    def _release(self, seq: _Seq, free: list[int]) -> None:
        self._ll.llama_memory_seq_rm(self.mem, seq.sid, -1, -1)
        self._ll.llama_sampler_free(seq.sampler)
        self._kv_tight = False
        heapq.heappush(free, seq.sid)
