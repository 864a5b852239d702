"""The one place that builds llama.cpp objects from a GGUF file: the whole model (``load_model``),
its vocabulary alone (``load_vocab``) and the multi-sequence context of the batched engine
(``open_context``).

Every load keeps llama.cpp's own output off the terminal (it writes to fd 2 and through its log
callback) and turns a failure into one ``ModelError`` that quotes the reason llama.cpp gave, so
the backend, the agreement measure, the judge and a tokenizer-only count all fail the same way.
Loads are counted in ``LOADS`` ("model" / "vocab"), so a test can tell which kind a command did
without replacing llama.cpp.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from trust_tui.engine.models import hardware
from trust_tui.engine.run import native_log
from trust_tui.errors import BackendError, ModelError

# Loads that returned an object, by kind; never reset (tests compare before and after).
LOADS: Counter = Counter()
# A vocabulary-only Llama still builds a context; this is the smallest llama-cpp-python accepts
# without complaint, and nothing is ever decoded in it.
VOCAB_N_CTX = 64


def llama_cpp_module() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a broken install
        raise BackendError(f"llama-cpp-python is not importable ({exc})") from None
    return llama_cpp


def gpu_offload() -> bool:
    """Whether this llama.cpp build can put layers on a GPU."""
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


def default_gpu_layers() -> int:
    """Everything on the GPU when llama.cpp was built with GPU support, else the CPU."""
    return -1 if gpu_offload() else 0


def default_threads() -> int:
    return max(1, hardware.cpu_count())


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """llama.cpp's messages kept off the terminal for the duration (and dropped)."""
    with native_log.capture():
        yield


def _reason(native: native_log.NativeLog | None) -> str:
    said = native.reason() if native is not None else ""
    return f"; llama.cpp: {said}" if said else ""


def load_vocab(path: str | Path) -> Any:
    """A ``llama_cpp.Llama`` holding only the file's vocabulary (no weights: a fraction of a
    second, also for a 70B file): enough to render and tokenize prompts."""
    llama_cpp = llama_cpp_module()
    native = None
    try:
        with native_log.capture() as native:
            llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, n_ctx=VOCAB_N_CTX,
                                  verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"{path}: llama.cpp could not read the vocabulary ({exc}"
                         f"{_reason(native)})") from None
    LOADS["vocab"] += 1
    return llm


def load_model(path: str | Path, *, n_ctx: int, n_threads: int | None = None,
               n_gpu_layers: int | None = None, n_batch: int | None = None,
               n_ubatch: int | None = None, logits_all: bool = False, seed: int = 42) -> Any:
    """A ``llama_cpp.Llama`` with the weights and a context of ``n_ctx`` cells."""
    llama_cpp = llama_cpp_module()
    threads = n_threads or default_threads()
    n_batch = n_batch or min(512, n_ctx)
    native = None
    try:
        with native_log.capture() as native:
            llm = llama_cpp.Llama(
                model_path=str(path), n_ctx=n_ctx, n_batch=n_batch,
                n_ubatch=min(n_batch, n_ubatch or n_batch), n_threads=threads,
                n_threads_batch=threads, logits_all=logits_all, seed=seed, verbose=False,
                n_gpu_layers=default_gpu_layers() if n_gpu_layers is None else n_gpu_layers)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"{path}: llama.cpp could not load the model ({exc}"
                         f"{_reason(native)})") from None
    LOADS["model"] += 1
    return llm


def open_context(model: Any, n_ctx: int, n_batch: int, n_ubatch: int, n_seq_max: int,
                 kv_unified: bool, n_threads: int) -> Any:
    """A llama.cpp context able to hold ``n_seq_max`` sequences, on a loaded ``LlamaModel``.

    ``llama_cpp.Llama`` 0.3.36 does not pass ``n_seq_max``/``kv_unified`` on to llama.cpp (they
    land in its ``**kwargs``), so the multi-sequence context is built here from the loaded model.
    It is freed together with the model. Raises ModelError quoting llama.cpp when it refuses.
    """
    llama_cpp = llama_cpp_module()
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
    native = None
    try:
        with native_log.capture() as native:
            return _internals.LlamaContext(model=model, params=params, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        path = getattr(model, "path_model", "the model")
        raise ModelError(f"{path}: llama.cpp could not create a context of {n_ctx} cells for "
                         f"{n_seq_max} sequences ({exc}{_reason(native)})") from None


def close(llm: Any) -> None:
    """Free a Llama (or context); freeing must never hide a result or an earlier error."""
    if llm is not None:
        with contextlib.suppress(Exception):
            llm.close()
