"""A judged run: the run (from cache where it can), then the judge over the answers it leaves
open, with the memory rule deciding whether the audited model is still loaded meanwhile; and
the judging of a run already in the store. The judge is a GGUF loaded here or a server."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from trust_tui.engine.run import api

from trust_tui.engine.models import files as models
from trust_tui.engine.judge import memory
from trust_tui.engine.judge.audit import DEFAULT_AUDIT
from trust_tui.engine.judge.engine import Judge, JudgeEngine
from trust_tui.engine.judge.judging import JudgeOutcome, judge_run
from trust_tui.engine.run.loop import Listener, RunOutcome, RunSpec
from trust_tui.engine.run.store import Store
from trust_tui.errors import TrustError


@dataclass(frozen=True)
class JudgeOptions:
    """Which judge and how it reads. ``model`` (a GGUF path) or ``server`` (a URL), not both."""

    model: str | Path | None = None
    format: str | None = None  # None: from the judge's metadata (the file's, or what a server says)
    threads: int | None = None
    n_gpu_layers: int | None = None
    parallel: int | None = None
    server: str | None = None
    server_model: str | None = None  # the name to ask the server for (default: the first it lists)
    server_model_file: str | Path | None = None  # the GGUF the server loaded: its sha256 names it
    fingerprint: str | None = None  # the user's word for which model the server serves
    api_key_env: str | None = None
    audit: int = DEFAULT_AUDIT  # rule-decided answers the judge also reads (0: none)


def open_judge(options: JudgeOptions, store: Store) -> Judge:
    """The judge identified but not loaded yet: a file fingerprinted (header checked), or a
    server asked what it serves."""
    if options.model and options.server:
        raise TrustError("give a judge file (--judge) or a judge server (--judge-server), not both")
    if options.server:
        from trust_tui.engine.judge.server import ServerJudge

        model_file = (models.identify(options.server_model_file, store)
                      if options.server_model_file else None)
        return ServerJudge(options.server, model=options.server_model, model_file=model_file,
                           fingerprint=options.fingerprint, format_name=options.format,
                           api_key_env=options.api_key_env, parallel=options.parallel)
    if not options.model:
        raise TrustError("no judge: give a judge file (--judge FILE.gguf) or --judge-server URL")
    if options.server_model_file or options.fingerprint:
        raise TrustError("--judge-server-model-file and --judge-fingerprint name a judge server's "
                         "model: they go with --judge-server")
    judge_file = models.identify(options.model, store)
    return JudgeEngine(judge_file, options.format, threads=options.threads,
                       n_gpu_layers=options.n_gpu_layers, parallel=options.parallel)


def judge_existing(store: Store, run_ref: int | str, options: JudgeOptions,
                   cancel: threading.Event | None = None,
                   on_stage: Callable[[str], None] | None = None) -> tuple[JudgeOutcome, Judge]:
    """Judge a run already in the store (finished or interrupted): its cached answers are read,
    nothing is generated, and a second call judges nothing. Returns the outcome and the judge
    (closed; its ``label`` and ``warning`` describe it)."""
    run = store.run(run_ref)
    judge = open_judge(options, store)
    try:
        outcome = judge_run(store, run["id"], judge, cancel, loading=_loading(judge, "after"),
                            on_stage=on_stage, audit=options.audit)
    finally:
        judge.close()
    return outcome, judge


def _loading(judge: Judge, local: str) -> str:
    return "server" if not isinstance(judge, JudgeEngine) else local


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
    audit = judge_options.audit
    audited = None
    if not options.server:
        stage("hashing model")
        audited = models.identify(model, store)
    if isinstance(judge, JudgeEngine):
        gpu = _uses_gpu(options.n_gpu_layers) or _uses_gpu(judge_options.n_gpu_layers)
        plan = memory.plan(audited, judge.model, gpu=gpu)
    else:
        plan = memory.server_plan()
    try:
        if plan.together and audited is not None and isinstance(judge, JudgeEngine):
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
                                   on_stage=stage, audit=audit)
            finally:
                backend.close()
        else:
            outcome = api.run(model, spec, options, store=store, listener=listener,
                              cancel=cancel, on_stage=stage)
            loading = _loading(judge, "together" if plan.together else "after")
            judged = judge_run(store, outcome.run_id, judge, cancel, loading=loading,
                               on_stage=stage, audit=audit)
    finally:
        judge.close()
    return outcome, judged, plan
