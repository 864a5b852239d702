"""The app's one door to the engine: it starts and cancels engine work, knows whether the engine
is idle, gives each worker thread its own store, and posts typed messages to the screen that
asked.

Screens never open a store in a worker or look at each other's attributes: they call
``app.service`` and listen for the messages in ``tui/messages.py``. One piece of engine work runs
at a time (llama.cpp models are large; two runs would fight over memory and cores); reads
(``read``) may run beside it, each in its own thread with its own connection.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from textual.message_pump import MessagePump

from trust_tui.tui.messages import (
    DataLoaded, RecheckProgress, RecheckStopped, RunStopped,
)

OUT_OF_MEMORY = ("out of memory: try a smaller model or quantization, a smaller context, "
                 "or fewer GPU layers")


@dataclass(frozen=True)
class JudgeChoice:
    """The judge the run setup chose: a GGUF file or an OpenAI-compatible server, and its format."""

    model: Path | None = None
    server: str | None = None
    format: str | None = None  # None: from the judge's metadata

    def describe(self) -> str:
        where = str(self.server) if self.server else (self.model.name if self.model else "?")
        return f"{where} ({self.format or 'format from its metadata'})"


class EngineService:
    """Owned by the app; every screen reaches the engine through it."""

    def __init__(self, app, config) -> None:
        self.app = app
        self.config = config
        self._idle = threading.Event()  # cleared while an engine thread is alive
        self._idle.set()
        self._cancel: threading.Event | None = None
        self.job: str | None = None  # "run", "recheck", "compare" while one is going
        self.data_version = 0  # bumped when engine work ends: screens know to read the store again

    # ------------------------------------------------------------------ state

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _begin(self, job: str) -> threading.Event | None:
        """Claim the engine for ``job`` (on the UI thread); the event cancels it. None when
        other engine work is still going or stopping."""
        if not self._idle.is_set():
            return None
        self._idle.clear()
        self.job = job
        self._cancel = threading.Event()
        return self._cancel

    def _end(self) -> None:
        # On the worker thread, last: the engine's store writes are done.
        self.job = None
        self.data_version += 1
        self._idle.set()

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    # ------------------------------------------------------------------ stores and backends

    @contextlib.contextmanager
    def store(self) -> Iterator[Any]:
        """A store connection for the calling thread (SQLite connections stay in their thread)."""
        from trust_tui.engine.run.store import Store

        store = Store(self.config.store_path)
        try:
            yield store
        finally:
            store.close()

    def make_backend(self, model_path: Path):
        """The configured backend (tests: the scripted fake), or None: the engine loads the file."""
        backend = self.config.backend
        if backend is None:
            return None
        if callable(backend) and not hasattr(backend, "generate"):
            return backend(model_path)
        return backend

    @property
    def scripted(self) -> bool:
        return self.config.backend is not None

    # ------------------------------------------------------------------ reads

    def read(self, target: MessagePump, key: str, reader: Callable[[Any], Any],
             group: str | None = None) -> None:
        """``reader(store)`` in a thread worker of ``target`` (a screen) with its own store;
        ``DataLoaded(key, result)`` to ``target``. A newer read of the same group replaces an
        older one still going, whose result is then dropped, as is a read whose screen is gone."""
        from textual.worker import get_current_worker

        def work() -> None:
            from trust_tui.errors import TrustError

            try:
                with self.store() as store:
                    result = reader(store)
            except TrustError as exc:
                target.post_message(DataLoaded(key, None, str(exc)))
                return
            if not get_current_worker().is_cancelled:
                target.post_message(DataLoaded(key, result))

        target.run_worker(work, thread=True, exclusive=True, group=group or f"read-{key}",
                            exit_on_error=False)

    # ------------------------------------------------------------------ engine work

    def start(self, job: str, work: Callable[[Any, threading.Event], None]) -> bool:
        """``work(store, cancel)`` in an engine thread with its own store, when the engine is
        idle (False when it is not); the engine is idle again when ``work`` returns or raises.
        ``cancel()`` (or quitting the app) sets ``cancel``. The work posts its own messages."""
        cancel = self._begin(job)
        if cancel is None:
            return False

        def run() -> None:
            try:
                with self.store() as store:
                    work(store, cancel)
            finally:
                self._end()

        self.app.run_worker(run, thread=True, group="engine", exit_on_error=False, name=job)
        return True

    # ------------------------------------------------------------------ runs

    def start_run(self, target: MessagePump, model, spec, options=None,
                  judge: JudgeChoice | None = None, recheck: int = 0) -> bool:
        """Run ``spec`` on ``model`` (a ``data.ModelRow``), judged when ``judge`` is given, then
        the determinism check of ``recheck`` items when asked. Events go to ``target`` as
        messages (``EngineBridge``), then ``RunStopped`` (and the check's messages)."""
        return self.start("run", lambda store, cancel: self._run(
            target, store, model, spec, options, judge, recheck, cancel))

    def _run(self, target, store, model, spec, options, judge, recheck_n, cancel) -> None:
        from trust_tui.engine.run import api
        from trust_tui.errors import Cancelled, TrustError
        from trust_tui.tui.bridge import EngineBridge

        bridge = EngineBridge(target)
        status, error, run_id, note = "failed", "", None, ""
        target.post_message(DataLoaded("eta-prior", _prior_unit_seconds(store, model, spec)))
        try:
            if judge is not None:
                outcome, note = self._judged(store, model, spec, options, judge, bridge, cancel)
            else:
                outcome = api.run(str(model.path), spec, options, store=store, listener=bridge,
                                  cancel=cancel, backend=self.make_backend(model.path),
                                  on_stage=bridge.stage)
            status, run_id = outcome.status, outcome.run_id
        except Cancelled as exc:
            status, error = "cancelled", str(exc)
        except TrustError as exc:
            status, error = "failed", str(exc)
        except MemoryError:
            status, error = "failed", OUT_OF_MEMORY
        except Exception as exc:  # noqa: BLE001 - a bug in the engine must not take the app down
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        run_id = run_id or bridge.run_id
        target.post_message(RunStopped(status, error, run_id, note))
        if status == "finished" and recheck_n and run_id is not None and not cancel.is_set():
            self._recheck(target, store, run_id, recheck_n, cancel)

    def _judged(self, store, model, spec, options, judge: JudgeChoice, bridge, cancel):
        """The engine's judged run (judge/session.py); the outcome and the judge's summary lines."""
        from trust_tui.engine.judge import audit
        from trust_tui.engine.judge.session import JudgeOptions, run_judged

        if judge.server:
            judge_options = JudgeOptions(format=judge.format, server=judge.server)
        else:
            judge_options = JudgeOptions(model=judge.model, format=judge.format)
        outcome, judged, plan = run_judged(None if options.server else model.path, spec, options,
                                           judge_options, store, listener=bridge, cancel=cancel,
                                           on_stage=bridge.stage)
        lines = [judged.summary_line(), audit.line(judged.agreement), judged.warning,
                 f"memory: {plan.reason}"]
        return outcome, "\n".join(line for line in lines if line)

    # ------------------------------------------------------------------ determinism check

    def start_recheck(self, target: MessagePump, run_id: int, n: int) -> bool:
        """Ask ``n`` of the run's items again, bypassing the cache (engine/run/recheck.py);
        ``RecheckProgress`` while it goes, ``RecheckStopped`` at the end (saved when finished)."""
        return self.start("recheck", lambda store, cancel: self._recheck(target, store, run_id, n, cancel))

    def _recheck(self, target, store, run_id: int, n: int, cancel: threading.Event) -> None:
        from trust_tui.engine.run import recheck
        from trust_tui.engine.run.progress import Progress
        from trust_tui.errors import Cancelled, TrustError

        progress = Progress()
        try:
            run = store.run(run_id)
            _, planned = recheck.plan(store, run_id, n)
            if not planned:
                raise TrustError(f"run {run_id} has no generated answers to ask again")
            # Two passes over the sample, whichever kind (batched and alone, or two seeds).
            progress.plan(total=2 * len(planned))
            target.post_message(RecheckProgress(run_id, 0, progress.total, None, "loading the model"))
            backend = self._recheck_backend(store, run)

            def finished_one() -> None:
                progress.finished_one()
                target.post_message(RecheckProgress(run_id, progress.done, progress.total, progress.eta()))

            progress.start()
            try:
                result = recheck.recheck(store, run_id, backend, n, cancel=cancel,
                                         on_answer=finished_one)
            finally:
                backend.close()
            recheck.save(store, result)
            target.post_message(RecheckStopped(run_id, "finished", lines=recheck.describe(result)))
        except Cancelled:
            target.post_message(RecheckStopped(run_id, "cancelled", "determinism check cancelled; nothing saved"))
        except TrustError as exc:
            target.post_message(RecheckStopped(run_id, "failed", str(exc)))
        except MemoryError:
            target.post_message(RecheckStopped(run_id, "failed", OUT_OF_MEMORY))
        except Exception as exc:  # noqa: BLE001 - a bug in the engine must not take the app down
            target.post_message(RecheckStopped(run_id, "failed", f"{type(exc).__name__}: {exc}"))

    def _recheck_backend(self, store, run):
        from trust_tui.engine.run import recheck

        if self.scripted:
            return self.make_backend(Path(run.get("model_path") or ""))
        return recheck.open_run_backend(store, run, worker=True)


def _prior_unit_seconds(store, model, spec) -> float | None:
    """Seconds per answer from past runs' rates, so a run's ETA has a figure before its first
    answer is in (engine/run/progress.py)."""
    from trust_tui.engine import bundles
    from trust_tui.engine.run.progress import prior_unit_seconds
    from trust_tui.errors import TrustError

    if model.source == "server":
        return None  # a server's speed has nothing to do with this machine's past runs
    try:
        workload = bundles.load(spec.bundle).select(spec.profile, spec.dimensions, spec.subtasks,
                                                    per_subtask=spec.per_subtask)
    except TrustError:
        return None  # the run itself reports the bundle's problem
    return prior_unit_seconds(store, model.model_id, workload)
