"""A judged run: the run (from cache where it can), then the judge over the answers it leaves
open, with the memory rule deciding whether the audited model is still loaded meanwhile."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from trust_tui.engine.run import api

from trust_tui.engine.models import files as models
from trust_tui.engine.judge import memory
from trust_tui.engine.judge.engine import JudgeEngine
from trust_tui.engine.judge.judging import JudgeOutcome, judge_run
from trust_tui.engine.run.loop import Listener, RunOutcome, RunSpec
from trust_tui.engine.run.store import Store


@dataclass(frozen=True)
class JudgeOptions:
    model: str | Path
    format: str | None = None  # None: from the judge file's metadata
    threads: int | None = None
    n_gpu_layers: int | None = None
    parallel: int | None = None


def open_judge(options: JudgeOptions, store: Store) -> JudgeEngine:
    """The judge file identified (header checked, fingerprinted) but not loaded yet."""
    judge_file = models.identify(options.model, store)
    return JudgeEngine(judge_file, options.format, threads=options.threads,
                       n_gpu_layers=options.n_gpu_layers, parallel=options.parallel)


def _uses_gpu(n_gpu_layers: int | None) -> bool:
    if n_gpu_layers is None:
        from trust_tui.engine.backends.llamacpp.backend import default_gpu_layers

        return default_gpu_layers() != 0
    return n_gpu_layers != 0


def run_judged(model: str | Path | None, spec: RunSpec, options: api.BackendOptions,
               judge_options: JudgeOptions, store: Store, listener: Listener | None = None,
               cancel: threading.Event | None = None,
               on_stage: Callable[[str], None] | None = None,
               ) -> tuple[RunOutcome, JudgeOutcome, memory.LoadPlan]:
    cancel = cancel or threading.Event()
    stage = on_stage or (lambda text: None)
    judge = open_judge(judge_options, store)
    audited = None
    if not options.server:
        stage("hashing model")
        audited = models.identify(model, store)
    gpu = _uses_gpu(options.n_gpu_layers) or _uses_gpu(judge_options.n_gpu_layers)
    plan = memory.plan(audited, judge.model, gpu=gpu)
    try:
        if plan.together and audited is not None:
            # Both fit: the audited model stays loaded while the judge loads and reads.
            from trust_tui.engine import bundles

            bundle = bundles.load(spec.bundle)
            workload = bundle.select(spec.profile, spec.dimensions, spec.subtasks, per_subtask=spec.per_subtask)
            stage("loading model")
            backend = api.open_backend(audited, options, workload, spec.generation, on_stage=stage)
            try:
                outcome = api.run(audited.path, spec, options, store=store, listener=listener,
                                  cancel=cancel, backend=backend, on_stage=stage)
                judged = judge_run(store, outcome.run_id, judge, cancel, loading="together",
                                   on_stage=stage)
            finally:
                backend.close()
        else:
            outcome = api.run(model, spec, options, store=store, listener=listener,
                              cancel=cancel, on_stage=stage)
            judged = judge_run(store, outcome.run_id, judge, cancel,
                               loading="together" if plan.together else "after", on_stage=stage)
    finally:
        judge.close()
    return outcome, judged, plan
