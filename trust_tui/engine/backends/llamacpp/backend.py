"""In-process llama.cpp backend (llama-cpp-python).

Prompts are rendered and tokenized by ``prompts.ChatPrompts`` (the GGUF's chat template, as
llama-cpp-python's own ``create_chat_completion`` does). With ``parallel > 1`` the batched
engine (``batched.py``) decodes many sequences in one context; with ``parallel == 1`` a plain
loop generates one request after the other. Both share ``prepare`` and ``TextStream``, so the
prompt tokens, BOS handling and stop strings are identical on both paths. Every figure the load
is sized with comes from one ``sizing.Plan``; every llama.cpp object comes from ``loader``.

With ``defer_load`` the backend starts from the file's vocabulary alone: it renders, tokenizes
and says what it will be (``info``) at once, and reads the weights only when asked to generate
(or ``load_model``), so a rerun answered from the cache never reads a multi-GB file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from trust_tui.engine.backends.llamacpp import loader, sizing
from trust_tui.engine.backends.llamacpp.batched import BatchedEngine, Prepared
from trust_tui.engine.backends.llamacpp.prompts import (  # noqa: F401 - their old home
    FALLBACK_STOPS, FALLBACK_TEMPLATE_WARNING, ChatPrompts, fallback_render, measure_prompts,
)
from trust_tui.engine.backends.protocol import BackendInfo
from trust_tui.engine.backends.textstream import TextStream
from trust_tui.engine.models import hardware
from trust_tui.engine.models.files import ModelFile
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Request, Response, TokenEvent
from trust_tui.errors import ModelError

# The judge and bench/answer_length.py still import these names from here.
default_gpu_layers = loader.default_gpu_layers
default_threads = loader.default_threads
_quiet_stderr = loader.quiet_stderr


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
        plan: "sizing.Plan | None" = None,
        defer_load: bool = False,
    ):
        """``plan`` sizes everything (``sizing.plan``); without one, a plan is made from the
        other arguments for this machine, with nothing known about the workload."""
        self._llama_cpp = loader.llama_cpp_module()
        self.model = model
        self.n_gpu_layers = loader.default_gpu_layers() if n_gpu_layers is None else n_gpu_layers
        if plan is None:
            plan = sizing.plan(sizing.Machine.detect(self.n_gpu_layers), model.info.metadata,
                               context=None if n_ctx else context_plan, n_ctx=n_ctx,
                               parallel=parallel, threads=n_threads, n_batch=n_batch,
                               n_ubatch=n_ubatch, kv_unified=kv_unified, kv_cells=kv_cells,
                               weights_bytes=model.info.size)
        self.plan = plan
        self.context_plan = plan.context
        self.parallel = plan.parallel
        self.seq_ctx = plan.seq_ctx  # tokens available to one sequence
        self.n_threads = plan.threads
        self.kv_cells = plan.kv_cells
        self.kv_unified = plan.kv_unified
        self.n_batch, self.n_ubatch = plan.n_batch, plan.n_ubatch
        self.prefix_reuse = prefix_reuse
        self.load_seconds: float | None = None
        self._llm = None  # the weights (a llama_cpp.Llama), once loaded
        self._batch_context = None  # the batched engine's multi-sequence context
        self._lock = threading.RLock()
        self._template = model.info.chat_template
        if defer_load:
            self._vocab_only = loader.load_vocab(model.path)
            self._prompts = ChatPrompts(self._vocab_only, self._template)
        else:
            self._vocab_only = None
            self._load()
        self._formatter = self._prompts.formatter
        self.info = BackendInfo(
            kind="llamacpp",
            model_id=model.sha256,
            model_name=model.path.name,
            template_source="gguf" if self._formatter else "fallback",
            template_warning="" if self._formatter else FALLBACK_TEMPLATE_WARNING,
            template_hash=hashlib.sha256((self._template or "fallback-v1").encode()).hexdigest()[:16],
            n_ctx=self.seq_ctx,
            parallel=self.parallel,
            settings=self._settings(),
            context=hardware.context(self.n_threads, self.n_gpu_layers),
        )

    def _settings(self) -> dict[str, Any]:
        settings = dict(self.plan.record(), n_gpu_layers=self.n_gpu_layers,
                        prefix_reuse=self.prefix_reuse)
        if self.load_seconds is not None:  # absent: answered from the cache, never loaded
            settings["load_seconds"] = round(self.load_seconds, 3)
        return settings

    # ------------------------------------------------------------------ loading

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def llm(self) -> Any:
        """The loaded model (loading it now if it is not)."""
        self.load_model()
        return self._llm

    @property
    def batch_context(self) -> Any:
        self.load_model()
        return self._batch_context

    @property
    def _vocab(self) -> Any:
        return self._prompts.llm._model.vocab

    def load_model(self, on_stage: Callable[[str], None] | None = None) -> None:
        """Read the weights and build the contexts the plan describes (once)."""
        with self._lock:
            if self._llm is not None:
                return
            if on_stage is not None:
                on_stage(f"loading model · {self.plan.describe()}")
            self._load()
            loader.close(self._vocab_only)
            self._vocab_only = None
            self.info = dataclasses.replace(self.info, settings=self._settings())

    def _load(self) -> None:
        plan, path = self.plan, self.model.path
        started = time.perf_counter()
        if plan.batched:
            # The Llama object keeps the weights, vocabulary and detokenizer; decoding runs in
            # the batch context, so its own context is the smallest.
            llm = loader.load_model(path, n_ctx=min(sizing.HELPER_CTX, plan.seq_ctx),
                                    n_threads=plan.threads, n_gpu_layers=self.n_gpu_layers)
            try:
                # llama_cpp.Llama 0.3.36 drops n_seq_max and kv_unified (its **kwargs).
                self._batch_context = loader.open_context(
                    llm._model, n_ctx=plan.kv_cells, n_batch=plan.n_batch, n_ubatch=plan.n_ubatch,
                    n_seq_max=plan.n_seq_max, kv_unified=plan.kv_unified, n_threads=plan.threads)
            except ModelError:
                loader.close(llm)
                raise
        else:
            llm = loader.load_model(path, n_ctx=plan.seq_ctx, n_threads=plan.threads,
                                    n_gpu_layers=self.n_gpu_layers, n_batch=plan.n_batch,
                                    n_ubatch=plan.n_ubatch)
        self._llm = llm
        self._prompts = ChatPrompts(llm, self._template)
        self.load_seconds = time.perf_counter() - started

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
            self.load_model()
            if self.parallel > 1:
                engine = BatchedEngine(self, n_parallel=self.parallel)
                yield from engine.run((self.prepare(r) for r in requests), cancel)
                return
            for request in requests:
                if cancel.is_set():
                    return
                yield from self._generate_one(self.prepare(request), cancel)

    def close(self) -> None:
        # The batch context before the model it was built on.
        loader.close(getattr(self, "_batch_context", None))
        self._batch_context = None
        loader.close(getattr(self, "_llm", None))
        self._llm = None
        loader.close(getattr(self, "_vocab_only", None))
        self._vocab_only = None

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
        llm = self.llm
        llm.set_seed(settings.seed)
        try:
            for token in llm.generate(
                tokens, temp=settings.temperature, top_k=settings.top_k, top_p=settings.top_p,
                min_p=settings.min_p, repeat_penalty=settings.repeat_penalty,
            ):
                if first_token_at is None:
                    first_token_at = time.perf_counter()
                if self.is_eog(token):
                    finish = "stop"
                    break
                generated.append(token)
                piece = llm.detokenize([token], prev_tokens=tokens + generated[:-1])
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
