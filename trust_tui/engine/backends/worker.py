"""A backend in a child process: a llama.cpp abort, segfault or out-of-memory kill ends the
worker, not the app or the CLI.

llama.cpp stops the whole process on a failed GGML_ASSERT, a bad allocation or a driver fault.
In-process, that takes the Textual app down with the terminal still in raw mode, and the user
learns nothing. Here the model lives in a ``spawn``ed child (no fork of a threaded parent);
the parent speaks the same ``Backend`` protocol over a pipe, pulls requests from the run loop
only when the child asks for one (so the batched engine refills lazily, as in-process), and
when the child dies it raises one ``BackendError`` naming the signal and quoting the last line
the child wrote to its stderr, which goes to a file so that nothing reaches the terminal. The
run loop then marks the run failed; every finished item is already committed.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from trust_tui.engine.backends.protocol import BackendInfo
from trust_tui.engine.types import Event, Request
from trust_tui.errors import BackendError, TrustError

_POLL_S = 0.1
_SIGNALS = {signal.SIGABRT: "SIGABRT: llama.cpp aborted", signal.SIGSEGV: "SIGSEGV: llama.cpp crashed",
            signal.SIGKILL: "SIGKILL: killed, most often for lack of memory",
            signal.SIGBUS: "SIGBUS: the model file changed or vanished while mapped",
            signal.SIGFPE: "SIGFPE: arithmetic fault in llama.cpp"}


def llamacpp_factory(model: Any, **options: Any):
    from trust_tui.engine.backends.llamacpp import backend as llamacpp

    return llamacpp.load(model, **options)


def _resolve(factory: str) -> Callable[..., Any]:
    module, _, name = factory.partition(":")
    return getattr(importlib.import_module(module), name)


def _child(conn, cancel, factory: str, args: tuple, kwargs: dict, stderr_path: str) -> None:
    """The worker: build the backend, then answer the parent's calls until told to close."""
    sink = os.open(stderr_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(sink, 2)  # llama.cpp's messages, and an abort's last words, for the parent to quote
    os.close(sink)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        backend = _resolve(factory)(*args, **kwargs)
    except TrustError as exc:
        conn.send(("fail", type(exc).__name__, str(exc)))
        return
    conn.send(("ready", backend.info))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        kind = message[0]
        if kind == "render":
            conn.send(("value", backend.render(message[1])))
        elif kind == "count":
            conn.send(("value", backend.count_tokens(message[1])))
        elif kind == "load":
            try:
                load = getattr(backend, "load_model", None)
                if load is not None:
                    load()
                conn.send(("value", backend.info))
            except TrustError as exc:
                conn.send(("fail", type(exc).__name__, str(exc)))
        elif kind == "generate":
            cancel.clear()
            local, watcher = _watch(cancel)
            try:
                for event in backend.generate(_pulled(conn), local):
                    conn.send(("event", event))
                conn.send(("end",))
            except TrustError as exc:
                conn.send(("fail", type(exc).__name__, str(exc)))
            finally:
                local.set()
                watcher.join()
        elif kind == "close":
            break
    backend.close()


def _watch(shared) -> tuple[threading.Event, threading.Thread]:
    """A thread-local copy of the parent's cancel flag: the decoding loop checks its flag at
    every step, and a multiprocessing Event costs a semaphore round trip per check."""
    local = threading.Event()

    def watch() -> None:
        while not local.is_set():
            if shared.wait(0.05):
                local.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return local, watcher


def _pulled(conn) -> Iterator[Request]:
    while True:
        conn.send(("need",))
        message = conn.recv()
        if message[0] != "request":
            return
        yield message[1]


@contextlib.contextmanager
def _real_std_streams():
    """The process's own stdout/stderr while a child is spawned. Textual replaces sys.stdout and
    sys.stderr with capture objects whose fileno() is -1; multiprocessing's resource tracker passes
    sys.stderr.fileno() to the child it starts, and a -1 there fails with "bad value(s) in
    fds_to_keep", so the app could not start a worker."""
    saved = sys.stdout, sys.stderr
    try:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            try:
                ok = stream is not None and stream.fileno() >= 0
            except (AttributeError, OSError, ValueError):
                ok = False
            if not ok:
                setattr(sys, name, getattr(sys, f"__{name}__"))
        yield
    finally:
        sys.stdout, sys.stderr = saved


class WorkerBackend:
    """``factory`` ("module:function") builds the real backend in the child from ``args`` and
    ``kwargs``, which must pickle (a ``ModelFile`` and load options do)."""

    def __init__(self, factory: str = "trust_tui.engine.backends.worker:llamacpp_factory",
                 *args: Any, **kwargs: Any):
        context = multiprocessing.get_context("spawn")
        handle, self._stderr_path = tempfile.mkstemp(prefix="trust-worker-", suffix=".log")
        os.close(handle)
        with _real_std_streams():
            self._conn, child_conn = context.Pipe()
            self._cancel = context.Event()
            self._lock = threading.Lock()
            self._process = context.Process(
                target=_child, args=(child_conn, self._cancel, factory, args, kwargs, self._stderr_path),
                daemon=True, name="trust-tui-worker")
            self._process.start()
        child_conn.close()
        reply = self._receive()
        if reply[0] == "fail":
            self.close()
            raise _error_of(reply[1], reply[2])
        self.info: BackendInfo = reply[1]

    # ------------------------------------------------------------------ protocol

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        return self._call(("render", [dict(m) for m in messages]))

    def count_tokens(self, prompt: str) -> int | None:
        return self._call(("count", prompt))

    def load_model(self, on_stage: Callable[[str], None] | None = None) -> None:
        """Have the child read the weights now (a child built with ``defer_load``); its info
        then says how long that took."""
        if on_stage is not None:
            on_stage(f"loading model · {self.info.parallel} × {self.info.n_ctx} tokens")
        self.info = self._call(("load",))

    def generate(self, requests: Iterable[Request], cancel: threading.Event) -> Iterator[Event]:
        with self._lock:
            source = iter(requests)
            self._send(("generate",))
            while True:
                if cancel.is_set():
                    self._cancel.set()
                message = self._receive(cancel)
                kind = message[0]
                if kind == "need":
                    request = None if cancel.is_set() else next(source, None)
                    self._send(("request", request) if request is not None else ("stop",))
                elif kind == "event":
                    yield message[1]
                elif kind == "end":
                    return
                elif kind == "fail":
                    raise _error_of(message[1], message[2])

    def close(self) -> None:
        process = getattr(self, "_process", None)
        if process is None:
            return
        if process.is_alive():
            try:
                self._conn.send(("close",))
            except (OSError, EOFError):
                pass
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        self._conn.close()
        self._process = None
        Path(self._stderr_path).unlink(missing_ok=True)

    # ------------------------------------------------------------------ plumbing

    def _call(self, message: tuple) -> Any:
        with self._lock:
            self._send(message)
            reply = self._receive()
            if reply[0] == "fail":
                raise _error_of(reply[1], reply[2])
            return reply[1]

    def _send(self, message: tuple) -> None:
        try:
            self._conn.send(message)
        except (OSError, EOFError):
            raise self._died() from None

    def _receive(self, cancel: threading.Event | None = None) -> tuple:
        while True:
            try:
                if self._conn.poll(_POLL_S):
                    return self._conn.recv()
            except (OSError, EOFError):
                raise self._died() from None
            if cancel is not None and cancel.is_set():
                self._cancel.set()  # the child stops pulling and returns; keep reading its events
            if not self._process.is_alive() and not self._conn.poll(0):
                raise self._died()

    def _died(self) -> BackendError:
        self._process.join(timeout=5)
        code = self._process.exitcode
        if code is not None and code < 0:
            how = _SIGNALS.get(-code, f"signal {-code}")
        else:
            how = f"exit status {code}"
        last = _last_line(self._stderr_path)
        return BackendError(f"the inference worker died ({how})" + (f": {last}" if last else "")
                            + "; finished items are kept, run again to resume")


def _error_of(name: str, message: str) -> TrustError:
    from trust_tui import errors

    kind = getattr(errors, name, TrustError)
    return kind(message) if isinstance(kind, type) and issubclass(kind, TrustError) else TrustError(message)


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            lines = [line.strip() for line in handle.read().decode("utf-8", errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    return lines[-1][:300] if lines else ""
