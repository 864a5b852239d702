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
                  kv_bytes_per_cell: int | None = None, memory_bytes: int | None = None) -> int:
    """How many sequences to decode together for a workload (the caller may override it).

    Never more than there are items; on a CPU at most 16 (llama.cpp's generation throughput
    peaks there: 135 tok/s for 1 sequence, 218 for 8, 251 for 16, 233 for 32 on the 2-core
    machine), on a GPU at most 64; no more KV streams of ``seq_ctx`` cells (the workload's
    need, ``plan_context``) than a bounded number of cells holds; and on a CPU, when the
    model's KV bytes per cell and the machine's memory are known, no more streams (plus the
    pinned prompt head's) than KV_MEMORY_SHARE_CPU of the memory holds.
    """
    if n_items <= 1:
        return 1
    cap = GPU_MAX_PARALLEL if gpu else CPU_MAX_PARALLEL
    seq_ctx = max(1, int(seq_ctx))
    by_memory = (KV_CELLS_BUDGET_GPU if gpu else KV_CELLS_BUDGET_CPU) // seq_ctx
    if not gpu and kv_bytes_per_cell and memory_bytes:
        streams = int(memory_bytes * KV_MEMORY_SHARE_CPU) // (seq_ctx * kv_bytes_per_cell)
        by_memory = min(by_memory, streams - 1)  # one stream is the pinned shared prompt head
    return int(max(1, min(cap, n_items, by_memory)))


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


def open_context(model: Any, n_ctx: int, n_batch: int, n_ubatch: int, n_seq_max: int,
                 kv_unified: bool, n_threads: int) -> Any:
    """A llama.cpp context able to hold ``n_seq_max`` sequences.

    ``llama_cpp.Llama`` 0.3.36 does not pass ``n_seq_max``/``kv_unified`` on to llama.cpp (they
    land in its ``**kwargs``), so the multi-sequence context is built here from the loaded model.
    It is freed together with the model.
    """
    import llama_cpp
    from llama_cpp import _internals

    params = llama_cpp.llama_context_default_params()
    params.n_ctx = n_ctx
    params.n_batch = n_batch
    params.n_ubatch = min(n_batch, n_ubatch)
    params.n_seq_max = n_seq_max
    params.kv_unified = kv_unified
    params.n_threads = n_threads
    params.n_threads_batch = n_threads
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the plain loop's Llama
    params.no_perf = True
    return _internals.LlamaContext(model=model, params=params, verbose=False)
