"""Runs for models being compared: turn each ref (run id, 'latest', model path) into a finished
run, reusing a stored run where one matches and otherwise running the model, in a spawned child
process when asked (so each run's peak memory is its model's alone).

Split from ``compare.py``, which imports ``resolve`` from here; nothing here depends on the
comparison itself. ``_child_main`` must stay a module-level function: it is the spawned
process's target.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from trust_tui.engine.run.store import Store
from trust_tui.errors import TrustError


def _reusable_run(store: Store, model_id: str, spec, bundle) -> dict | None:
    """The latest finished run of this model with this spec: nothing to generate or load."""
    wanted = {"dimensions": list(spec.dimensions), "subtasks": list(spec.subtasks),
              "generation": dict(spec.generation), "per_subtask": getattr(spec, "per_subtask", None)}
    for run in store.runs(model_id, limit=200):
        if (run["status"] != "finished" or run["bundle"] != bundle.name
                or run["bundle_hash"] != bundle.content_hash or run["profile"] != spec.profile):
            continue
        saved = run.spec_info
        if {k: saved.get(k) for k in wanted} != wanted or run.backend_settings.get("kind") == "server":
            continue
        if any(r["status"] == "pending" for r in store.run_items(run["id"])):
            continue
        return run
    return None


def ensure_run(store: Store, model: str | Path, spec, options=None, listener=None, on_stage=None,
               cancel: threading.Event | None = None, backend=None, isolate: bool = True) -> tuple[int, bool]:
    """A finished run of ``spec`` on ``model``: (run id, True when an existing run was reused).

    Otherwise ``api.run`` runs it (answers come from the cache where possible). With
    ``isolate`` it runs in a child process, so the run's peak memory is that model's alone.
    """
    from trust_tui.engine.run import api

    from trust_tui.engine import bundles
    from trust_tui.engine.models import files as models
    stage = on_stage or (lambda text: None)
    if backend is None:
        stage("hashing " + (Path(str(model)).name if model else "the embedded model"))
        model_file = models.identify(model, store)
        found = _reusable_run(store, model_file.sha256, spec, bundles.load(spec.bundle))
        if found is not None:
            return found["id"], True
        model = model_file.path
    if backend is not None or not isolate:
        outcome = api.run(model, spec, options, store=store, listener=listener, cancel=cancel,
                          backend=backend, on_stage=on_stage)
        return outcome.run_id, False
    return run_in_child(model, spec, options, store.path, listener, on_stage, cancel), False


def _child_main(model: str, spec, options, store_path: str, events, stop) -> None:
    """The body of ``run_in_child``'s process: api.run, its events sent back through a queue."""
    from trust_tui.engine.run import api

    store = Store(store_path)
    try:
        outcome = api.run(model, spec, options, store=store,
                          listener=lambda event: events.put(("event", event)),
                          cancel=stop, on_stage=lambda text: events.put(("stage", text)))
        events.put(("done", outcome.run_id))
    except TrustError as exc:
        events.put(("error", (type(exc).__name__, str(exc))))
    except KeyboardInterrupt:
        events.put(("error", ("Cancelled", "cancelled: everything finished so far is stored")))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        events.put(("error", ("BackendError", f"the run of {Path(model).name} failed: "
                                              f"{type(exc).__name__}: {exc}")))
    finally:
        store.close()


def run_in_child(model: str | Path, spec, options, store_path: str | Path, listener=None,
                 on_stage=None, cancel: threading.Event | None = None) -> int:
    """``api.run`` in a child process (spawned: a clean llama.cpp), relaying its events to
    ``listener`` here; the run's peak memory is then this model's alone. Cancelling ``cancel``
    asks the child to stop the way a cancelled run stops (finished items are kept)."""
    import multiprocessing
    import queue

    from trust_tui import errors

    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    stop = context.Event()
    process = context.Process(target=_child_main, daemon=True, name="trust-tui-run",
                              args=(str(model), spec, options, str(store_path), events, stop))
    process.start()
    result: int | None = None
    failure: tuple[str, str] | None = None
    try:
        while True:
            if cancel is not None and cancel.is_set():
                stop.set()
            try:
                kind, payload = events.get(timeout=0.1)
            except queue.Empty:
                if not process.is_alive():
                    break
                continue
            if kind == "event" and listener is not None:
                listener(payload)
            elif kind == "stage" and on_stage is not None:
                on_stage(payload)
            elif kind == "done":
                result = payload
                break
            elif kind == "error":
                failure = payload
                break
    except BaseException:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.terminate()
        raise
    process.join(30)
    if failure is not None:
        name, message = failure
        raise getattr(errors, name, errors.TrustError)(message)
    if result is None:
        raise errors.BackendError(f"the run of {Path(str(model)).name} ended without a result "
                                  f"(exit code {process.exitcode})")
    return result


def resolve(store: Store, refs: Sequence[str | int], spec=None, options=None, listener=None,
            on_stage=None, cancel: threading.Event | None = None,
            backend_factory: Callable[[Path], Any] | None = None,
            isolate: bool = True) -> tuple[list[int], list[str]]:
    """Each ref (run id, 'latest', model path, or 'default' for the embedded model) as a finished
    run id, running models first. Returns (run ids, one note per ref)."""
    from trust_tui.engine.run.loop import RunSpec

    kinds: list[tuple[str, Any]] = []
    for ref in refs:
        text = str(ref)
        if isinstance(ref, int) or ((text.isdigit() or text == "latest") and not Path(text).exists()):
            kinds.append(("run", store.resolve_run(text)))
        elif text == "default" and not Path(text).exists():
            kinds.append(("model", None))
        else:
            kinds.append(("model", text))
    if spec is None:
        first_run = next((value for kind, value in kinds if kind == "run"), None)
        if first_run is not None:
            saved = store.run(first_run).spec_info
            spec = RunSpec(bundle=saved.get("bundle", "trust-core"), profile=saved.get("profile", "quick"),
                           dimensions=tuple(saved.get("dimensions") or ()),
                           subtasks=tuple(saved.get("subtasks") or ()),
                           generation=dict(saved.get("generation") or {}))
        else:
            spec = RunSpec()
    ids, notes = [], []
    for kind, value in kinds:
        if kind == "run":
            ids.append(value)
            notes.append(f"run {value}")
            continue
        backend = backend_factory(Path(value) if value else None) if backend_factory else None
        run_id, reused = ensure_run(store, value, spec, options, listener, on_stage, cancel,
                                    backend=backend, isolate=isolate)
        ids.append(run_id)
        notes.append(f"run {run_id} ({'reused' if reused else 'ran'} {Path(str(value or 'default')).name})")
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise TrustError(f"run {min(duplicates)} is given twice; compare different runs or models")
    return ids, notes
