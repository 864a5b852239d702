"""The engine's front door: what the CLI, the app and Python users call.

Each function is a thin composition of the engine's modules, so ``trust-tui run`` and
``trust_tui.engine.run.api.run(...)`` do exactly the same thing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from trust_tui.engine import bundles

from trust_tui.engine.models import files as models
from trust_tui.engine.backends.protocol import Backend
from trust_tui.engine.run.loop import Listener, RunOutcome, Runner, RunSpec
from trust_tui.engine.run.store import Store


@dataclass(frozen=True)
class BackendOptions:
    n_ctx: int | None = None
    threads: int | None = None
    n_gpu_layers: int | None = None
    parallel: int | None = None  # None: chosen from the hardware and the workload
    # OpenAI-compatible servers instead of a local file: base URLs (one string or several that
    # serve the same model), the model name, and how its identity is established (server.identity).
    server: str | tuple[str, ...] | None = None
    server_model: str | None = None
    server_model_file: str | None = None  # the GGUF the server loaded: its sha256 is the fingerprint
    fingerprint: str | None = None  # the user's word for which model the server serves
    api_key_env: str | None = None  # name of the variable holding the key (the key is never stored)
    server_timeout: float | None = None  # seconds without a byte before a server counts as silent
    server_retries: int | None = None
    # llama.cpp in a child process (backends/worker.py): an abort or a segfault fails the run
    # with one line instead of ending the app or the CLI.
    worker: bool = False


def open_backend(model: models.ModelFile | None, options: BackendOptions,
                 workload: list | None = None, generation: Mapping[str, Any] | None = None,
                 on_stage: Callable[[str], None] | None = None,
                 server_model_file: Mapping[str, Any] | None = None) -> Backend:
    """The backend for a run of ``workload`` ((subtask, item) pairs, with the run's generation
    overrides), sized by ``sizing.plan`` from this machine, the model's header and the
    workload's real prompt and answer lengths. A local model starts from its vocabulary and
    reads its weights only when something is left to generate (``load_model``). With
    ``options.server``, the servers' backend (``server_model_file``: the record of the GGUF the
    user says the server loaded)."""
    if options.server:
        return open_server_backend(options, server_model_file)
    from trust_tui.engine.backends.llamacpp import backend as llamacpp

    assert model is not None
    if on_stage is not None and workload:
        on_stage("measuring prompts")
    load_options = dict(n_gpu_layers=options.n_gpu_layers, defer_load=True,
                        plan=load_plan(model, options, workload, generation))
    if options.worker:
        from trust_tui.engine.backends.worker import WorkerBackend

        return WorkerBackend("trust_tui.engine.backends.worker:llamacpp_factory", model, **load_options)
    return llamacpp.load(model, **load_options)


def load_plan(model: models.ModelFile, options: BackendOptions, workload: list | None = None,
              generation: Mapping[str, Any] | None = None):
    """``sizing.plan`` for ``workload`` on this machine: every figure and why."""
    from trust_tui.engine.backends.llamacpp import sizing

    counts = prompt_tokens(model.path, workload or [], model.info.chat_template)
    pairs = _request_lengths(workload or [], counts, generation)
    return sizing.plan(sizing.Machine.detect(options.n_gpu_layers), model.info.metadata,
                       pairs if pairs else None, n_ctx=options.n_ctx, parallel=options.parallel,
                       threads=options.threads, weights_bytes=model.info.size)


def open_server_backend(options: BackendOptions, model_file: Mapping[str, Any] | None = None) -> Backend:
    import os

    from trust_tui.engine.backends.openai_compat import OpenAICompatBackend
    from trust_tui.engine.backends.server import client
    from trust_tui.errors import BackendError

    api_key = None
    if options.api_key_env:
        api_key = os.environ.get(options.api_key_env)
        if not api_key:
            raise BackendError(f"--api-key-env {options.api_key_env}: that environment variable is not set")
    servers = (options.server,) if isinstance(options.server, str) else tuple(options.server or ())
    return OpenAICompatBackend(
        servers, model=options.server_model, api_key=api_key, concurrency=options.parallel,
        fingerprint=options.fingerprint, model_file=model_file, api_key_env=options.api_key_env,
        read_timeout=options.server_timeout or client.DEFAULT_READ_TIMEOUT,
        retries=client.DEFAULT_RETRIES if options.server_retries is None else options.server_retries)


def prompt_tokens(model_path: str | Path, workload: list,
                  chat_template: str | None = None) -> dict[str, int]:
    """Prompt tokens of each item (by uid) of ``workload`` ((subtask, item) pairs), rendered with
    the model's chat template, from a tokenizer-only load of the file; {} when its vocabulary
    cannot be read (the caller then falls back to the default context)."""
    from trust_tui.engine.backends.llamacpp.prompts import measure_prompts
    from trust_tui.errors import TrustError

    if not workload:
        return {}
    try:
        counts = measure_prompts(model_path, chat_template, [item.messages for _, item in workload])
    except TrustError:
        return {}
    return {item.uid: n for (_, item), n in zip(workload, counts)}


def _request_lengths(workload: list, prompt_tokens: Mapping[str, int],
                     generation: Mapping[str, Any] | None = None) -> list[tuple[int, int]]:
    """(prompt tokens, max_tokens) of each measured item, after the run's generation overrides."""
    overrides = dict(generation or {})
    return [(prompt_tokens[item.uid], sub.generation.merged(overrides).max_tokens)
            for sub, item in workload if item.uid in prompt_tokens]


def context_plan(workload: list, prompt_tokens: Mapping[str, int], n_ctx: int | None = None,
                 generation: Mapping[str, Any] | None = None, train_ctx: int | None = None):
    """Cells per sequence for ``workload``: the item that needs the most (its prompt tokens +
    its max_tokens after the run's ``generation`` overrides), unless ``n_ctx`` is given (the
    setup screen's hint; a run sizes everything through ``load_plan``)."""
    from trust_tui.engine.backends.llamacpp.sizing import plan_context

    return plan_context(_request_lengths(workload, prompt_tokens, generation), user_ctx=n_ctx,
                        train_ctx=train_ctx)


def run(
    model: str | Path | None = None,
    spec: RunSpec | None = None,
    options: BackendOptions | None = None,
    store: Store | None = None,
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
    backend: Backend | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run a bundle on a model (from cache where possible) and return the outcome.

    ``backend`` may be given (tests use the scripted fake); otherwise the model file is
    identified, fingerprinted and loaded in-process (or ``options.server`` is used).
    """
    spec = spec or RunSpec()
    options = options or BackendOptions()
    own_store = store is None
    store = store or Store()
    stage = on_stage or (lambda text: None)
    try:
        bundle = bundles.load(spec.bundle)
        workload = bundle.select(spec.profile, spec.dimensions, spec.subtasks, per_subtask=spec.per_subtask)
        model_record: dict[str, Any] = {}
        own_backend = backend is None
        if backend is not None and model is not None and not options.server:
            model_record = models.identify(model, store).record()  # so history links the file
        if backend is None:
            model_file = None
            if not options.server:
                stage("hashing model")
                model_file = models.identify(model, store)
                model_record = model_file.record()
            elif options.server_model_file:
                stage("hashing the server's model file")
                model_record = models.identify(options.server_model_file, store).record()
            if options.server:
                stage("asking the server")
            backend = open_backend(model_file, options, workload, spec.generation, on_stage=stage,
                                   server_model_file=model_record or None)
        try:
            runner = Runner(store, backend, spec, bundle=bundle, model_record=model_record,
                            listener=listener, on_stage=stage)
            return runner.execute(cancel)
        finally:
            if own_backend:
                backend.close()
    finally:
        if own_store:
            store.close()
