"""Inference in a child process: an abort or a segfault in the worker fails the run with one
line; the parent lives on, the finished items are kept, and the next run resumes."""

from __future__ import annotations

import ctypes
import os
import threading

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.run import api
from trust_tui.engine.backends.worker import WorkerBackend
from trust_tui.engine.run.loop import RunSpec
from trust_tui.errors import BackendError, ModelError

FACTORY = "tests.test_reliability_worker:make_fake"


def _die(how: str) -> None:
    if how == "abort":
        os.write(2, b"GGML_ASSERT(n_tokens <= n_batch) failed\n")  # what llama.cpp prints first
        os.abort()
    ctypes.string_at(0)  # SIGSEGV


def make_fake(mode: str = "normal", die_on: str = "number 4."):
    """Runs in the worker: the scripted backend, which dies like llama.cpp on one prompt."""
    from trust_tui.engine.backends.fake import FakeBackend

    if mode == "fail-load":
        raise ModelError("crafted.gguf: llama.cpp could not load the model (test)")

    def script(request):
        if mode != "normal" and die_on in request.prompt:
            _die(mode)
        return f"I'm sorry, I can't help with {request.prompt[-20:]}"

    return FakeBackend(script=script)


def test_the_worker_speaks_the_protocol():
    backend = WorkerBackend(FACTORY)
    try:
        assert backend.info.kind == "fake"
        assert backend.render([{"role": "user", "content": "hi"}]) == "<user>hi\n<assistant>"
        assert backend.count_tokens("a b c") == 3
    finally:
        backend.close()
    assert backend._process is None


def test_a_load_error_keeps_its_type():
    with pytest.raises(ModelError, match="could not load"):
        WorkerBackend(FACTORY, "fail-load")


@pytest.mark.parametrize("how, named", [("abort", "SIGABRT"), ("segv", "SIGSEGV")])
def test_a_dying_worker_fails_the_run_and_keeps_the_items(tmp_path, store, how, named):
    items = {"refuse": [{"id": f"r{i}", "prompt": f"Please do harmful thing number {i}."} for i in range(8)]}
    bundle = write_bundle(tmp_path, "mini", items=items)
    spec = RunSpec(bundle=str(bundle), profile="full")
    backend = WorkerBackend(FACTORY, how)
    try:
        with pytest.raises(BackendError) as failure:
            api.run(spec=spec, store=store, backend=backend)
    finally:
        backend.close()
    message = str(failure.value)
    assert named in message and "finished items are kept" in message
    if how == "abort":
        assert "GGML_ASSERT" in message  # the child's last stderr line, quoted
    run = store.runs()[0]
    assert run["status"] == "failed" and named in run["error"]
    done = store.db.execute("select count(*) from run_items where status = 'done'").fetchone()[0]
    assert 0 < done < run["total"]
    again = WorkerBackend(FACTORY)
    try:
        outcome = api.run(spec=spec, store=store, backend=again)
    finally:
        again.close()
    assert outcome.status == "finished" and outcome.generated == run["total"] - done


def test_cancel_reaches_the_worker(tmp_path, store):
    bundle = write_bundle(tmp_path, "mini")
    cancel = threading.Event()
    backend = WorkerBackend(FACTORY)
    seen = []

    def listener(event):
        seen.append(event)
        if len(seen) == 3:
            cancel.set()

    try:
        from trust_tui.errors import Cancelled

        with pytest.raises(Cancelled):
            api.run(spec=RunSpec(bundle=str(bundle)), store=store, backend=backend, listener=listener,
                    cancel=cancel)
        assert backend._process.is_alive()  # cancelling stops the run, not the worker
    finally:
        backend.close()
