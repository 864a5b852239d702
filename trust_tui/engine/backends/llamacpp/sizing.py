"""How a llama.cpp context is sized for a workload: cells per sequence, sequences decoded together,
batch sizes, KV bytes; and the multi-sequence context itself (``open_context``).

Pure functions of the hardware, the model's GGUF metadata and the workload's prompt and answer
lengths (except ``open_context``, which builds the context they describe). The plain loop
(backend.py), the batched engine (batched.py), the API (run/api.py) and the judge all size from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

# Measured on a 2-core EPYC with SmolLM2-135M Q4_1 (bench/README.md). A trust bundle is
# prompt-heavy (about 4 prompt tokens per generated token), so most of the gain comes from
# evaluating shared prompt heads once and from full prompt batches; decode batching adds the rest
# and flattens beyond ~16 sequences on a CPU, while every sequence costs a KV stream.
CPU_MAX_PARALLEL = 16
GPU_MAX_PARALLEL = 64
DEFAULT_N_BATCH = 512
DEFAULT_N_UBATCH = 512
# One KV stream per sequence (kv_unified off): each sequence attends only over its own cells
# instead of over every sequence's (measured: 12-15% less compute at 16 sequences) and its logits
# match the plain loop's far more often (36-38 of 40 answers identical, against 20 of 40).
DEFAULT_KV_UNIFIED = False
# Tokens (prompt + answer) one sequence may hold when neither the caller nor a workload says:
# a KV stream of this size is allocated per sequence, and sharing a prompt head copies one whole
# stream. A run sizes it from its workload instead (``plan_context``).
DEFAULT_BATCHED_SEQ_CTX = 1024
# The plain loop's context when nothing says otherwise (one sequence: memory is no concern).
DEFAULT_PLAIN_SEQ_CTX = 2048
# Contexts are whole multiples of this: llama.cpp pads a KV stream to 256 cells anyway.
SEQ_CTX_STEP = 256
# For a unified KV cache only: cells per sequence in the shared pool.
DEFAULT_CELLS_PER_SEQ = 256
# KV cells (all sequences together) auto_parallel stays within: 16 sequences of 1024 tokens on a
# CPU (SmolLM2: 23 KiB per cell, 384 MiB), four times that on a GPU.
KV_CELLS_BUDGET_CPU = 16 * 1024
KV_CELLS_BUDGET_GPU = 64 * 1024
# On a CPU the KV streams live in RAM next to the weights: all of them together stay within this
# share of the machine's memory. Cells are cheap for SmolLM2 (23 KiB) but an 8B model's are
# 128 KiB, so 17 streams of 1024 cells would take 2.1 GiB on a laptop that may have 8.
KV_MEMORY_SHARE_CPU = 1 / 8
# And within the model's own size: for a small model the KV streams of 16 sequences outweigh the
# weights (SmolLM2-135M: 17 streams of 512 cells are 190 MiB beside 94 MiB of weights), while on
# a CPU the sequences past the first few add little (the whole batched engine was 11% faster than
# the plain loop on trust-core quick). Never fewer than MIN_PARALLEL_BY_WEIGHTS for this reason.
KV_WEIGHTS_SHARE_CPU = 1.0
MIN_PARALLEL_BY_WEIGHTS = 4


@dataclass(frozen=True)
class ContextPlan:
    """Cells per sequence for a run, and where the figure comes from (recorded with the run).

    ``source`` is "workload" (the request that needs the most cells: its prompt, rendered with
    the chat template, plus its max_tokens, rounded up to SEQ_CTX_STEP), "user" (--ctx) or
    "default" (nothing known about the prompts)."""

    seq_ctx: int
    source: str
    longest_prompt: int | None = None  # tokens of the workload's longest prompt
    need: int | None = None  # cells of the request that needs the most (prompt + max_tokens + 1)
    max_tokens: int | None = None  # the largest answer budget in the workload
    train_ctx: int | None = None  # the model's training context, which caps seq_ctx

    def record(self) -> dict[str, Any]:
        return {key: value for key, value in (
            ("source", self.source), ("longest_prompt", self.longest_prompt), ("need", self.need),
            ("max_tokens", self.max_tokens), ("train_ctx", self.train_ctx)) if value is not None}

    def describe(self) -> str:
        """The figure and its basis, in a few words (the setup screen and the run's log)."""
        if self.source == "workload":
            basis = f"longest prompt {self.longest_prompt} + answers up to {self.max_tokens}"
            if self.train_ctx and self.need and self.need > self.train_ctx:
                basis += f"; capped at the model's {self.train_ctx}"
            return f"{self.seq_ctx} tokens ({basis})"
        return f"{self.seq_ctx} tokens ({'--ctx' if self.source == 'user' else 'default'})"


def plan_context(requests: Iterable[tuple[int, int]] | None, user_ctx: int | None = None,
                 train_ctx: int | None = None, parallel: int = 1) -> ContextPlan:
    """Cells per sequence for ``requests`` given as (prompt tokens, max_tokens) pairs.

    The user's figure wins; otherwise the request that needs the most cells (its prompt, its
    answer budget and the one cell llama.cpp needs beyond the prompt) sets it, rounded up to
    SEQ_CTX_STEP; without requests, the old defaults (2048 for the plain loop, 1024 batched).
    Never beyond the model's training context: a longer prompt is skipped, not truncated."""
    def capped(n: int) -> int:
        return min(n, train_ctx) if train_ctx else n

    pairs = [(int(p), int(m)) for p, m in (requests or ())]
    if user_ctx:
        longest = max((p for p, _ in pairs), default=None)
        return ContextPlan(capped(int(user_ctx)), "user", longest_prompt=longest, train_ctx=train_ctx)
    if not pairs:
        default = DEFAULT_PLAIN_SEQ_CTX if parallel <= 1 else DEFAULT_BATCHED_SEQ_CTX
        return ContextPlan(capped(default), "default", train_ctx=train_ctx)
    need = max(p + max(1, m) + 1 for p, m in pairs)
    seq_ctx = int(math.ceil(need / SEQ_CTX_STEP) * SEQ_CTX_STEP)
    return ContextPlan(capped(seq_ctx), "workload", longest_prompt=max(p for p, _ in pairs),
                       need=need, max_tokens=max(m for _, m in pairs), train_ctx=train_ctx)


def auto_parallel(n_items: int, seq_ctx: int, gpu: bool = False,
                  kv_bytes_per_cell: int | None = None, memory_bytes: int | None = None,
                  weights_bytes: int | None = None) -> int:
    """How many sequences to decode together for a workload (the caller may override it).

    Never more than there are items; on a CPU at most 16 (llama.cpp's generation throughput
    peaks there: 135 tok/s for 1 sequence, 218 for 8, 251 for 16, 233 for 32 on the 2-core
    machine), on a GPU at most 64; no more KV streams of ``seq_ctx`` cells (the workload's
    need, ``plan_context``) than a bounded number of cells holds; and on a CPU, when the
    model's KV bytes per cell are known, no more streams (plus the pinned prompt head's) than
    the model's own size holds (``weights_bytes``; never below MIN_PARALLEL_BY_WEIGHTS for this
    reason) or KV_MEMORY_SHARE_CPU of the machine's memory.
    """
    return min(value for value, _ in _parallel_bounds(
        n_items, seq_ctx, gpu, kv_bytes_per_cell, memory_bytes, weights_bytes))


def _parallel_bounds(n_items: int, seq_ctx: int, gpu: bool, per_cell: int | None,
                     memory_bytes: int | None, weights_bytes: int | None) -> list[tuple[int, str]]:
    """Each limit on the sequences decoded together, with the reason it gives."""
    if n_items <= 1:
        return [(1, "one request")]
    seq_ctx = max(1, int(seq_ctx))
    cap = GPU_MAX_PARALLEL if gpu else CPU_MAX_PARALLEL
    budget = KV_CELLS_BUDGET_GPU if gpu else KV_CELLS_BUDGET_CPU
    bounds = [(int(n_items), f"one per request ({n_items})"),
              (cap, f"{'GPU' if gpu else 'CPU'} throughput flattens beyond {cap}"),
              (max(1, budget // seq_ctx), f"{budget} KV cells hold {budget // seq_ctx} streams of {seq_ctx}")]
    if not gpu and per_cell:
        stream = seq_ctx * per_cell  # one stream is the pinned shared prompt head
        if weights_bytes:
            fit = int(weights_bytes * KV_WEIGHTS_SHARE_CPU) // stream - 1
            bounds.append((max(MIN_PARALLEL_BY_WEIGHTS, fit),
                           f"KV streams of {seq_ctx} cells within the model's size "
                           f"({weights_bytes / 2 ** 20:.0f} MiB)"))
        if memory_bytes:
            share = int(memory_bytes * KV_MEMORY_SHARE_CPU)
            bounds.append((max(1, share // stream - 1), f"KV streams of {seq_ctx} cells within "
                           f"{share >> 20} MiB (1/8 of the memory)"))
    return bounds


def auto_batch(gpu: bool = False) -> tuple[int, int]:
    """(n_batch, n_ubatch): llama.cpp's 512/512 on a CPU, where a bigger micro-batch gains
    nothing; a logical batch of 2048 on a GPU so long prompt runs fill it."""
    return (2048, 512) if gpu else (DEFAULT_N_BATCH, DEFAULT_N_UBATCH)


def kv_bytes(n_cells: int, metadata: dict[str, Any]) -> int | None:
    per_token = kv_bytes_per_token(metadata)
    return None if per_token is None else n_cells * per_token


def kv_bytes_per_token(metadata: dict[str, Any], type_bytes: float = 2.0) -> int | None:
    """Bytes of K+V cache per token (f16 cache by default) from GGUF metadata, or None."""
    arch = metadata.get("general.architecture")
    try:
        layers = int(metadata[f"{arch}.block_count"])
        heads = int(metadata[f"{arch}.attention.head_count"])
        heads_kv = int(metadata.get(f"{arch}.attention.head_count_kv", heads))
        embd = int(metadata[f"{arch}.embedding_length"])
    except (KeyError, TypeError, ValueError):
        return None
    if heads <= 0 or heads_kv < 0 or layers <= 0 or embd <= 0:
        return None  # a header no working model has: size nothing from it (gguf.py says why)
    head_k = int(metadata.get(f"{arch}.attention.key_length", embd // heads))
    head_v = int(metadata.get(f"{arch}.attention.value_length", embd // heads))
    return int(layers * heads_kv * (head_k + head_v) * type_bytes)


# --------------------------------------------------------------------------- the whole plan

# The batched engine's Llama object keeps the weights, the vocabulary and the detokenizer; its own
# context never decodes (batch_context does), so it gets the smallest one llama.cpp makes (it pads
# every context, and every KV stream, to a multiple of 256 cells).
HELPER_CTX = 256


@dataclass(frozen=True)
class Machine:
    """What the plan needs to know about the hardware."""

    cpus: int
    memory_bytes: int | None = None  # physical memory; None where the platform does not say
    gpu: bool = False  # layers are offloaded to a GPU (the KV cache then lives in VRAM)

    @classmethod
    def detect(cls, n_gpu_layers: int | None = None) -> "Machine":
        from trust_tui.engine.backends.llamacpp import loader
        from trust_tui.engine.models import hardware

        layers = loader.default_gpu_layers() if n_gpu_layers is None else n_gpu_layers
        return cls(cpus=hardware.cpu_count(), memory_bytes=hardware.memory_bytes(), gpu=layers != 0)


@dataclass(frozen=True)
class Plan:
    """Everything a llama.cpp load is sized with, and why (``reasons``, one line per figure)."""

    parallel: int  # sequences decoded together (1: the plain loop)
    seq_ctx: int  # cells one sequence may hold: its prompt and its answer
    kv_cells: int  # KV cells allocated in all (every stream together)
    n_seq_max: int  # sequence ids of the context: one per sequence, plus the pinned prompt head
    kv_unified: bool
    n_batch: int
    n_ubatch: int
    threads: int
    context: ContextPlan
    kv_bytes: int | None = None  # what kv_cells take (f16 cache), when the header says
    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def batched(self) -> bool:
        return self.parallel > 1

    def reason(self, name: str) -> str:
        return dict(self.reasons).get(name, "")

    def record(self) -> dict[str, Any]:
        """The settings a run records (the backend column of the store)."""
        return {"n_ctx": self.seq_ctx, "n_threads": self.threads, "parallel": self.parallel,
                "n_batch": self.n_batch, "n_ubatch": self.n_ubatch, "kv_cells": self.kv_cells,
                "kv_unified": self.kv_unified, "n_ctx_plan": self.context.record(),
                "plan_reasons": dict(self.reasons)}

    def describe(self) -> str:
        return f"{self.parallel} × {self.seq_ctx} tokens"


def train_context(metadata: dict[str, Any]) -> int | None:
    value = metadata.get(f"{metadata.get('general.architecture')}.context_length")
    return int(value) if isinstance(value, int) and value > 0 else None


def plan(machine: Machine, metadata: dict[str, Any], requests: Iterable[tuple[int, int]] | None = None,
         *, context: ContextPlan | None = None, n_ctx: int | None = None, parallel: int | None = None,
         threads: int | None = None, n_batch: int | None = None, n_ubatch: int | None = None,
         kv_unified: bool | None = None, kv_cells: int | None = None,
         weights_bytes: int | None = None) -> Plan:
    """The load plan for ``requests`` ((prompt tokens, max_tokens) pairs, the workload's real
    lengths; None when unknown) on ``machine`` for the model whose GGUF header is ``metadata``
    and whose file has ``weights_bytes``.

    A figure the caller gives wins (``n_ctx``, ``parallel``, ...; ``context``: a ContextPlan made
    already). Otherwise: cells per sequence from the request that needs the most
    (``plan_context``); sequences from the number of requests, the hardware and the KV memory
    (``auto_parallel``); one KV stream per sequence plus one for the pinned prompt head; batch
    sizes from ``auto_batch``; every core. Pure: the same inputs give the same plan."""
    pairs = None if requests is None else [(int(p), int(m)) for p, m in requests]
    train_ctx = train_context(metadata)
    per_cell = kv_bytes_per_token(metadata)
    reasons: dict[str, str] = {"n_ubatch": "asked" if n_ubatch else "llama.cpp's default, at most n_batch"}

    reasons["threads"] = "asked (--threads)" if threads else f"every core ({machine.cpus})"
    threads = int(threads) if threads else max(1, int(machine.cpus))

    if context is None:
        context = plan_context(pairs, user_ctx=n_ctx, train_ctx=train_ctx, parallel=parallel or 1)
    if parallel:
        parallel = max(1, int(parallel))
        reasons["parallel"] = "asked (--parallel)"
    elif not pairs:
        parallel = 1
        reasons["parallel"] = "no workload known: the plain loop"
    else:
        # A default context says nothing about the prompts: size the streams as the batched
        # engine's default would be.
        seq_ctx = context.seq_ctx if context.source != "default" else DEFAULT_BATCHED_SEQ_CTX
        bounds = _parallel_bounds(len(pairs), seq_ctx, machine.gpu, per_cell, machine.memory_bytes,
                                  weights_bytes)
        parallel, reasons["parallel"] = min(bounds, key=lambda bound: bound[0])
    if context.source == "default" and not n_ctx:
        # Nothing measured: the default of the loop that runs.
        context = plan_context(None, train_ctx=train_ctx, parallel=parallel)
    seq_ctx = min(context.seq_ctx, train_ctx or DEFAULT_PLAIN_SEQ_CTX)
    reasons["seq_ctx"] = context.describe()

    unified = DEFAULT_KV_UNIFIED if kv_unified is None else bool(kv_unified)
    stream = int(math.ceil(seq_ctx / SEQ_CTX_STEP) * SEQ_CTX_STEP)  # what llama.cpp allocates
    if parallel > 1:
        n_seq_max = parallel + 1
        if unified:
            cells = int(kv_cells or max(seq_ctx, parallel * DEFAULT_CELLS_PER_SEQ))
            reasons["kv_cells"] = ("asked" if kv_cells else
                                   f"one pool of {DEFAULT_CELLS_PER_SEQ} cells per sequence")
        else:
            cells = stream * n_seq_max
            reasons["kv_cells"] = (f"{n_seq_max} streams of {stream}: {parallel} sequences and "
                                   "the pinned prompt head")
        auto_b, auto_u = auto_batch(gpu=machine.gpu)
        reasons["n_batch"] = "asked" if n_batch else (
            "a GPU fills long prompt batches" if machine.gpu else "llama.cpp's default on a CPU")
        n_batch = int(n_batch or auto_b)
        n_ubatch = min(n_batch, int(n_ubatch or auto_u))
    else:
        n_seq_max = 1
        cells = stream
        reasons["kv_cells"] = "one sequence"
        reasons["n_batch"] = "asked" if n_batch else f"the prompt in batches of at most {DEFAULT_N_BATCH}"
        n_batch = int(n_batch or min(DEFAULT_N_BATCH, seq_ctx))
        n_ubatch = min(n_batch, int(n_ubatch or DEFAULT_N_UBATCH))
    return Plan(parallel=parallel, seq_ctx=seq_ctx, kv_cells=cells, n_seq_max=n_seq_max,
                kv_unified=unified, n_batch=n_batch, n_ubatch=n_ubatch, threads=threads,
                context=context, kv_bytes=None if per_cell is None else cells * per_cell,
                reasons=tuple(reasons.items()))


def open_context(*args: Any, **kwargs: Any) -> Any:
    """``loader.open_context`` (the batched engine builds its own context through this name)."""
    from trust_tui.engine.backends.llamacpp import loader

    return loader.open_context(*args, **kwargs)
