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
llama.cpp, so a greedy answer can still diverge from the plain loop's after some tokens.

Shared prompt heads (the chat template's system block) are evaluated once: a sequence whose
prompt starts with tokens already in the KV cache of another sequence copies those cells with
``llama_memory_seq_cp`` (in a unified KV cache that only tags the cells; nothing is recomputed).
The most recent such head is pinned to a spare sequence id so it survives between prompts.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from trust_tui.engine.backends.textstream import TextStream
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Response, TokenEvent

if TYPE_CHECKING:  # pragma: no cover
    from trust_tui.engine.backends.llamacpp import LlamaCppBackend, Prepared

# Measured on a 2-core EPYC with SmolLM2-135M Q4_1 (bench/README.md): tokens per second of one
# llama_decode rises with the batch up to ~16 sequences and flattens after 32, while the KV
# cache (and attention over it) keeps growing. A GPU keeps gaining far longer.
CPU_MAX_PARALLEL = 16
GPU_MAX_PARALLEL = 64
DEFAULT_N_BATCH = 512
DEFAULT_N_UBATCH = 512
# Prompts start being shared only when at least this many leading tokens match: below that, the
# bookkeeping costs more than re-evaluating a few tokens.
MIN_SHARED_PREFIX = 8


# --------------------------------------------------------------------------- sizing


def auto_parallel(n_items: int, mean_prompt_tokens: float, max_tokens: int, gpu: bool = False) -> int:
    """How many sequences to decode together for a workload.

    More sequences than items waste KV memory; on a CPU, throughput per llama_decode call stops
    growing at about 16 sequences (measured), while every extra sequence adds prompt + answer
    cells to the cache that each decode step attends over. Long prompts with short answers
    (prompt-bound workloads) gain little from many decode streams, so fewer are used.
    """
    if n_items <= 1:
        return 1
    cap = GPU_MAX_PARALLEL if gpu else CPU_MAX_PARALLEL
    per_seq = max(1.0, mean_prompt_tokens) + max(1, max_tokens)
    # Keep the cells of all sequences within ~8k tokens on a CPU (attention cost), ~32k on a GPU.
    cells_cap = (32768 if gpu else 8192) // per_seq
    return int(max(1, min(cap, n_items, max(2, cells_cap))))


def cells_per_sequence(mean_prompt_tokens: float, max_tokens: int) -> int:
    """KV cells one sequence of such a workload typically needs, rounded up to 64."""
    need = max(1.0, mean_prompt_tokens) * 1.5 + max(1, max_tokens) + 1
    return int(math.ceil(need / 64.0) * 64)


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


