"""In-process llama.cpp backend (llama-cpp-python).

Prompts are rendered with the chat template stored in the GGUF (a plain fallback template is
used, and reported, when the file has none) and tokenized exactly as llama-cpp-python's own
``create_chat_completion`` does, so answers match what users see elsewhere. With ``parallel > 1``
the batched engine (``batched.py``) decodes many sequences in one context; with ``parallel == 1``
a plain loop generates one request after the other. Both share ``prepare`` and ``TextStream``,
so the prompt tokens, BOS handling and stop strings are identical on both paths.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from trust_tui.engine.backends.llamacpp import sizing
from trust_tui.engine.backends.llamacpp.batched import BatchedEngine, Prepared
from trust_tui.engine.backends.protocol import BackendInfo
from trust_tui.engine.backends.textstream import TextStream
from trust_tui.engine.models import hardware
from trust_tui.engine.models.files import ModelFile
from trust_tui.engine.run import native_log
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Request, Response, TokenEvent
from trust_tui.errors import BackendError, ModelError

FALLBACK_TEMPLATE_WARNING = (
    "the model has no chat template; prompts used a plain fallback template, "
    "which alone can lower its scores"
)


def fallback_render(messages: Sequence[Mapping[str, str]]) -> str:
    """A plain transcript for models without a chat template (base models)."""
    parts = []
    for message in messages:
        role = message["role"]
        if role == "system":
            parts.append(message["content"].strip() + "\n")
        elif role == "user":
            parts.append(f"User: {message['content'].strip()}\n")
        else:
            parts.append(f"Assistant: {message['content'].strip()}\n")
    parts.append("Assistant:")
    return "\n".join(parts)


FALLBACK_STOPS = ("\nUser:", "\n\nUser")


def default_gpu_layers() -> int:
    """Everything on the GPU when llama.cpp was built with GPU support, else the CPU."""
    try:
        import llama_cpp
    except ImportError:
        return 0
    return -1 if llama_cpp.llama_supports_gpu_offload() else 0


def default_threads() -> int:
    return max(1, hardware.cpu_count())


@contextlib.contextmanager
def _quiet_stderr():
    """llama.cpp writes load logs straight to fd 2; keep the terminal clean."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class ChatPrompts:
    """A model's prompt rules: rendered with the GGUF's chat template (or the plain fallback)
    and tokenized as llama-cpp-python's ``create_chat_completion`` does. The backend and the
    tokenizer-only measure of a workload (``measure_prompts``) use the same object, so a
    prompt counted before loading has the tokens it is decoded with."""

    def __init__(self, llm: Any, template: str | None):
        import llama_cpp

        self.llm = llm
        self._add_bos_vocab = bool(llama_cpp.llama_vocab_get_add_bos(llm._model.vocab))
        self.formatter = None
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos_id, bos_id = llm.token_eos(), llm.token_bos()
            eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
            bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
            try:
                self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
                self.formatter(messages=[{"role": "user", "content": "ping"}])
            except Exception:  # noqa: BLE001 - a broken template: fall back, and say so
                self.formatter = None

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        if self.formatter is not None:
            return self.formatter(messages=[dict(m) for m in messages]).prompt
        return fallback_render(messages)

    def tokenize(self, prompt: str) -> list[int]:
        # Same rule as llama-cpp-python's chat handler: a GGUF template adds its own special
        # tokens (added_special=True, so no extra BOS); the plain fallback gets the vocab's BOS.
        add_bos = self.formatter is None and self._add_bos_vocab
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)


def measure_prompts(path: str | Path, chat_template: str | None,
                    conversations: Iterable[Sequence[Mapping[str, str]]]) -> list[int]:
    """Prompt tokens of each conversation, rendered and tokenized as the backend will, from a
    tokenizer-only load of the model file (no weights: a fraction of a second, also for a 70B
    file). Raises ModelError when llama.cpp cannot read the file's vocabulary."""
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a broken install
        raise BackendError(f"llama-cpp-python is not importable ({exc})") from None
    try:
        with _quiet_stderr():
            llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, n_ctx=64, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"{path}: llama.cpp could not read the vocabulary ({exc})") from None
    try:
        prompts = ChatPrompts(llm, chat_template)
        return [len(prompts.tokenize(prompts.render(messages))) for messages in conversations]
    finally:
        with contextlib.suppress(Exception):
            llm.close()


class LlamaCppBackend:
    def __init__(
        self,
        model: ModelFile,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        parallel: int | None = None,
        n_batch: int | None = None,
        n_ubatch: int | None = None,
        kv_cells: int | None = None,
        kv_unified: bool | None = None,
        prefix_reuse: bool = True,
        context_plan: "sizing.ContextPlan | None" = None,
    ):
        try:
            import llama_cpp
        except ImportError as exc:  # pragma: no cover - a broken install
            raise BackendError(f"llama-cpp-python is not importable ({exc})") from None

        self._llama_cpp = llama_cpp
        self.model = model
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = default_gpu_layers() if n_gpu_layers is None else n_gpu_layers
        self.parallel = max(1, parallel or 1)
        train_ctx = model.info.context_length or sizing.DEFAULT_PLAIN_SEQ_CTX
        if n_ctx or context_plan is None:
            context_plan = sizing.plan_context(None, user_ctx=n_ctx, train_ctx=train_ctx,
                                                parallel=self.parallel)
        self.context_plan = context_plan
        self.seq_ctx = min(context_plan.seq_ctx, train_ctx)  # tokens available to one sequence
        self.prefix_reuse = prefix_reuse
        self.kv_unified = sizing.DEFAULT_KV_UNIFIED if kv_unified is None else bool(kv_unified)
        self.batch_context = None  # the multi-sequence context of the batched engine
        if self.parallel > 1:
            # By default one KV stream of seq_ctx cells per sequence id (kv_unified off), plus
            # one for the pinned shared prompt head. With kv_unified on, one pool of kv_cells
            # shared by all sequences; the engine admits a sequence only while its cells fit.
            auto_n_batch, auto_n_ubatch = sizing.auto_batch(gpu=self.n_gpu_layers != 0)
            n_batch = n_batch or auto_n_batch
            n_ubatch = n_ubatch or auto_n_ubatch
            n_seq_max = self.parallel + 1
            if self.kv_unified:
                cells = kv_cells or max(self.seq_ctx, self.parallel * sizing.DEFAULT_CELLS_PER_SEQ)
            else:
                cells = self.seq_ctx * n_seq_max
            self.kv_cells = int(cells)
            # The Llama object is kept for the model, vocabulary and tokenizer; decoding runs in
            # batch_context, so its own context stays small.
            llama_ctx, llama_batch, llama_ubatch = min(256, self.seq_ctx), min(256, n_batch), 256
        else:
            self.kv_cells = self.seq_ctx
            llama_ctx = self.seq_ctx
            llama_batch = n_batch or min(512, self.seq_ctx)
            llama_ubatch = n_ubatch or 512
        self.n_batch = n_batch or llama_batch
        self.n_ubatch = min(self.n_batch, n_ubatch or llama_ubatch)
        self.load_seconds = 0.0
        started = time.perf_counter()
        native = None  # what llama.cpp logs during the load, quoted if it fails
        try:
            with native_log.capture() as native:
                self.llm = llama_cpp.Llama(
                    model_path=str(model.path), n_ctx=llama_ctx, n_threads=self.n_threads,
                    n_threads_batch=self.n_threads, n_gpu_layers=self.n_gpu_layers,
                    n_batch=llama_batch, n_ubatch=llama_ubatch, seed=42, verbose=False,
                )
                if self.parallel > 1:
                    # llama_cpp.Llama 0.3.36 drops n_seq_max and kv_unified (its **kwargs).
                    self.batch_context = sizing.open_context(
                        self.llm._model, n_ctx=self.kv_cells, n_batch=self.n_batch,
                        n_ubatch=self.n_ubatch, n_seq_max=n_seq_max, kv_unified=self.kv_unified,
                        n_threads=self.n_threads)
        except (ValueError, RuntimeError, OSError) as exc:
            said = native.reason() if native is not None else ""
            said = f"; llama.cpp: {said}" if said else ""
            raise ModelError(f"{model.path}: llama.cpp could not load the model ({exc}{said})") from None
        self.load_seconds = time.perf_counter() - started
        self._vocab = self.llm._model.vocab
        self._lock = threading.Lock()
        template = model.info.chat_template
        self._prompts = ChatPrompts(self.llm, template)
        self._formatter = self._prompts.formatter
        self.info = BackendInfo(
            kind="llamacpp",
            model_id=model.sha256,
            model_name=model.path.name,
            template_source="gguf" if self._formatter else "fallback",
            template_warning="" if self._formatter else FALLBACK_TEMPLATE_WARNING,
            template_hash=hashlib.sha256((template or "fallback-v1").encode()).hexdigest()[:16],
            n_ctx=self.seq_ctx,
            parallel=self.parallel,
            settings={"n_ctx": self.seq_ctx, "n_threads": self.n_threads,
                      "n_gpu_layers": self.n_gpu_layers, "parallel": self.parallel,
                      "n_batch": self.n_batch, "n_ubatch": self.n_ubatch,
                      "kv_cells": self.kv_cells, "kv_unified": self.kv_unified,
                      "prefix_reuse": prefix_reuse, "n_ctx_plan": context_plan.record(),
                      "load_seconds": round(self.load_seconds, 3)},
            context=hardware.context(self.n_threads, self.n_gpu_layers),
        )

    # ------------------------------------------------------------------ protocol

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        return self._prompts.render(messages)

    def tokenize(self, prompt: str) -> list[int]:
        return self._prompts.tokenize(prompt)

    def count_tokens(self, prompt: str) -> int | None:
        return len(self.tokenize(prompt))

    def stops_for(self, request: Request) -> tuple[str, ...]:
        stops = tuple(request.settings.stop)
        if self._formatter is None:
            stops += FALLBACK_STOPS
        return stops

    def prepare(self, request: Request) -> Prepared:
        return Prepared(request, self.tokenize(request.prompt), self.stops_for(request))

    def is_eog(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def generate(self, requests: Iterable[Request], cancel: threading.Event) -> Iterator[Event]:
        with self._lock:  # one Llama, one decoding loop at a time
            if self.parallel > 1:

                engine = BatchedEngine(self, n_parallel=self.parallel)
                yield from engine.run((self.prepare(r) for r in requests), cancel)
                return
            for request in requests:
                if cancel.is_set():
                    return
                yield from self._generate_one(self.prepare(request), cancel)

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            with contextlib.suppress(Exception):
                llm.close()
            self.llm = None

    # ------------------------------------------------------------------ the plain loop

    def _generate_one(self, prepared: Prepared, cancel: threading.Event) -> Iterator[Event]:
        request, tokens = prepared.request, prepared.tokens
        settings = request.settings
        if len(tokens) + 1 > self.seq_ctx:
            yield ErrorEvent(request.id, f"prompt of {len(tokens)} tokens does not fit the "
                                         f"context of {self.seq_ctx} tokens")
            return
        budget = min(settings.max_tokens, self.seq_ctx - len(tokens))
        stream = TextStream(prepared.stops)
        started = time.perf_counter()
        first_token_at = None
        generated: list[int] = []
        finish = "length"
        self.llm.set_seed(settings.seed)
        try:
            for token in self.llm.generate(
                tokens, temp=settings.temperature, top_k=settings.top_k, top_p=settings.top_p,
                min_p=settings.min_p, repeat_penalty=settings.repeat_penalty,
            ):
                if first_token_at is None:
                    first_token_at = time.perf_counter()
                if self.is_eog(token):
                    finish = "stop"
                    break
                generated.append(token)
                piece = self.llm.detokenize([token], prev_tokens=tokens + generated[:-1])
                text = stream.feed(piece)
                if text:
                    yield TokenEvent(request.id, text)
                if stream.stopped:
                    finish = "stop"
                    break
                if len(generated) >= budget:
                    break
                if cancel.is_set():
                    finish = "cancelled"
                    break
        except (RuntimeError, ValueError) as exc:
            yield ErrorEvent(request.id, f"llama.cpp failed while generating ({exc})", skip=False)
            return
        if finish == "cancelled":
            return  # not done: it is generated again next time
        tail = stream.finish()
        if tail:
            yield TokenEvent(request.id, tail)
        ended = time.perf_counter()
        yield DoneEvent(request.id, Response(
            text=stream.text, prompt_tokens=len(tokens), completion_tokens=len(generated),
            finish_reason=finish,
            ttft_s=(first_token_at - started) if first_token_at else None,
            gen_s=ended - started,
        ))


def load(model: ModelFile, **options: Any) -> LlamaCppBackend:
    path = Path(model.path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    return LlamaCppBackend(model, **options)
