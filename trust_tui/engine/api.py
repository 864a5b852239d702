"""The engine's front door: what the CLI, the app and Python users call.

Each function is a thin composition of the engine's modules, so ``trust-tui run`` and
``trust_tui.engine.api.run(...)`` do exactly the same thing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from trust_tui.engine import bundles, models
from trust_tui.engine.backends.protocol import Backend
from trust_tui.engine.run import Listener, RunOutcome, Runner, RunSpec
from trust_tui.engine.store import Store


@dataclass(frozen=True)
class BackendOptions:
    n_ctx: int | None = None
    threads: int | None = None
    n_gpu_layers: int | None = None
    parallel: int | None = None  # None: chosen from the hardware and the workload
    server: str | None = None  # base URL of an OpenAI-compatible server instead of a local file
    server_model: str | None = None


def open_backend(model: models.ModelFile | None, options: BackendOptions,
                 workload: list | None = None) -> Backend:
    if options.server:
        from trust_tui.engine.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(options.server, model=options.server_model,
                                   concurrency=options.parallel or 4)
    from trust_tui.engine.backends import llamacpp

    assert model is not None
    parallel = options.parallel
    if parallel is None:
        parallel = _auto_parallel(workload, options, model.info.metadata)
    return llamacpp.load(model, n_ctx=options.n_ctx, n_threads=options.threads,
                         n_gpu_layers=options.n_gpu_layers, parallel=parallel)


def _auto_parallel(workload: list | None, options: BackendOptions,
                   metadata: dict[str, Any] | None = None) -> int:
    try:
        from trust_tui.engine.backends.batched import (
            DEFAULT_BATCHED_SEQ_CTX,
            auto_parallel,
            kv_bytes_per_token,
        )
    except ImportError:
        return 1
    from trust_tui.engine.hardware import memory_bytes
    if not workload:
        return 1
    gpu = (options.n_gpu_layers or 0) != 0
    try:
        from trust_tui.engine.backends.llamacpp import default_gpu_layers

        gpu = gpu or (options.n_gpu_layers is None and default_gpu_layers() != 0)
    except ImportError:
        pass
    mean_max_tokens = sum(s.generation.max_tokens for s, _ in workload) / len(workload)
    return auto_parallel(n_items=len(workload), mean_prompt_tokens=120,
                         max_tokens=int(mean_max_tokens), gpu=gpu,
                         kv_bytes_per_cell=kv_bytes_per_token(metadata or {}),
                         memory_bytes=memory_bytes(),
                         cells_per_seq=options.n_ctx or DEFAULT_BATCHED_SEQ_CTX)


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
        workload = bundle.select(spec.profile, spec.dimensions, spec.subtasks)
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
            stage("loading model")
            backend = open_backend(model_file, options, workload)
        try:
            runner = Runner(store, backend, spec, bundle=bundle, model_record=model_record,
                            listener=listener)
            stage("running")
            return runner.execute(cancel)
        finally:
            if own_backend:
                backend.close()
    finally:
        if own_store:
            store.close()
