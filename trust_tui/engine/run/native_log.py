"""What llama.cpp says while it loads a model, kept for the error message instead of discarded.

llama.cpp reports why a load failed ("key not found in model: llama.attention.head_count",
"failed to allocate buffer", "n_ctx must be > 0") through its log callback and, for ggml's own
messages, straight to fd 2. llama-cpp-python with ``verbose=False`` drops the first and points
fd 2 at /dev/null during the load, so a user only ever saw "Failed to load model from file".
``capture()`` takes both for the duration of a load: a log callback of its own (restored
afterwards) and fd 2 into a temporary file. Nothing reaches the terminal; the lines are
there to quote if the load fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import tempfile
import threading
from typing import Iterator

# ggml_log_level (ggml.h): 1 debug, 2 info, 3 warn, 4 error, 5 continuation of the previous
# message. (llama-cpp-python's _logger.py comment still has the older numbering.)
_WARN, _ERROR, _CONT = 3, 4, 5
_LOCK = threading.Lock()  # the log callback is process-global
# Lines that describe a failure rather than progress.
_RELEVANT = re.compile(r"error|fail|invalid|not found|cannot|can't|unable|must be|too (large|many|big)"
                       r"|out of memory|unsupported|wrong|exceed|abort|assert", re.I)
_PREFIX = re.compile(r"^[a-z_0-9]+: ")  # "llama_model_load: " and the like
# The summary lines that follow the real cause.
_GENERIC = re.compile(r"failed to load model$|failed to create .*context$", re.I)


class NativeLog:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._kept_last = False  # whether the message a continuation belongs to was kept

    def add(self, level: int, text: str) -> None:
        if level == _CONT:
            if self._kept_last and self.lines:
                self.lines[-1] += text
            return
        self._kept_last = level in (_WARN, _ERROR)
        if self._kept_last:
            self.lines.append(text)

    def reason(self) -> str:
        """The last line that reads like the cause of a failure ('' when there is none),
        without its function-name prefix and on one line."""
        relevant = [re.sub(r"\s+", " ", _PREFIX.sub("", line.strip())) for line in self.lines
                    if _RELEVANT.search(line)]
        specific = [line for line in relevant if not _GENERIC.match(line)]
        chosen = (specific or relevant or [""])[-1]
        return chosen[:300]


@contextlib.contextmanager
def capture() -> Iterator[NativeLog]:
    log = NativeLog()
    with _LOCK, _log_callback(log), _fd2_into(log):
        yield log


@contextlib.contextmanager
def _log_callback(log: NativeLog) -> Iterator[None]:
    try:
        import llama_cpp
    except ImportError:
        yield
        return

    @llama_cpp.llama_log_callback
    def collect(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        log.add(level, text.decode("utf-8", errors="replace"))

    llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
    try:
        yield
    finally:
        try:
            from llama_cpp import _logger

            llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
        except (ImportError, AttributeError):
            llama_cpp.llama_log_set(ctypes.cast(None, llama_cpp.llama_log_callback), ctypes.c_void_p(0))


@contextlib.contextmanager
def _fd2_into(log: NativeLog) -> Iterator[None]:
    """fd 2 into a temporary file (not a pipe: a chatty load could fill a pipe and block)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read(1 << 20).decode("utf-8", errors="replace").splitlines():
                log.add(_ERROR, line)
