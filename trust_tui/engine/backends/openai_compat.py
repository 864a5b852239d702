"""A backend for OpenAI-compatible servers: llama-server, vLLM, Ollama, llama_cpp.server.

Standard library only: ``http.client`` for streaming chat completions (server-sent events) and a
few threads, so up to ``concurrency`` requests are in flight at once. The server renders the chat
template, so ``render`` returns the canonical JSON of the messages (that is what the cache key
is built from) and ``count_tokens`` cannot tell.

A stream is only an answer when the server says why it ended (``finish_reason``). A stream
that ends without one was cut off: llama-cpp-python's own server, with its default
``interrupt_requests``, ends the stream in progress whenever another request arrives. Such a
request is sent again, and from then on this backend sends one request at a time; a cut answer
is never reported as done.
"""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from trust_tui.engine.backends.protocol import BackendInfo
from trust_tui.engine.backends.textstream import TextStream
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Request, Response, TokenEvent
from trust_tui.errors import BackendError

# Tries per request when the server keeps cutting streams off (each after the previous cut).
MAX_CUT_RETRIES = 4
# llama.cpp-family sampler fields (llama-server, llama_cpp.server, Ollama accept them): without
# them llama_cpp.server applies its own defaults (repeat_penalty 1.1, min_p 0.05), which change
# even greedy answers. Dropped, for the backend's lifetime, if a server rejects them.
EXTRA_FIELDS = ("top_k", "min_p", "repeat_penalty")


def canonical_messages(messages: Sequence[Mapping[str, str]]) -> str:
    return json.dumps([dict(m) for m in messages], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


class _Unreachable(Exception):
    """The server cannot be reached at all: the run stops."""


class _Rejected(Exception):
    """The server answered this request with an HTTP error."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Cut(Exception):
    """The stream ended without a finish_reason."""


@dataclass
class _Endpoint:
    scheme: str
    host: str
    port: int
    path: str  # the API root, e.g. "/v1"


def _endpoint(base_url: str) -> _Endpoint:
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendError(f"{base_url}: not an http(s) URL of an OpenAI-compatible server")
    path = parts.path.rstrip("/") or "/v1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _Endpoint(parts.scheme, parts.hostname, port, path)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OpenAICompatBackend:
    def __init__(self, base_url: str, model: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, timeout: float = 600.0, connect_timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.endpoint = _endpoint(self.base_url)
        self.api_key = api_key
        self.concurrency = max(1, int(concurrency))
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.model = model or self._discover_model()
        self._serial = threading.Lock()  # held around each request once the server cuts streams
        self._one_at_a_time = False
        self._send_extras = True
        self.info = BackendInfo(
            kind="openai",
            model_id=f"server:{self.base_url}:{self.model or 'default'}",
            model_name=self.model or self.base_url,
            template_source="server",
            template_hash="server",
            n_ctx=None,
            parallel=self.concurrency,
            settings={"base_url": self.base_url, "model": self.model,
                      "concurrency": self.concurrency},
            context={"server": self.base_url},
        )

    # ------------------------------------------------------------------ protocol

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        return canonical_messages(messages)

    def count_tokens(self, prompt: str) -> int | None:
        return None

    def close(self) -> None:
        pass

    def generate(self, requests: Iterable[Request], cancel: threading.Event) -> Iterator[Event]:
        source = iter(requests)
        source_lock = threading.Lock()
        events: queue.Queue = queue.Queue()
        stop = threading.Event()  # cancelled, or a fatal error: workers stop pulling
        workers = [_Worker(self, source, source_lock, events, stop, cancel)
                   for _ in range(self.concurrency)]
        for worker in workers:
            worker.start()
        running = len(workers)
        try:
            while running:
                if cancel.is_set():
                    return
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if event is None:
                    running -= 1
                    continue
                if cancel.is_set():
                    return
                yield event
                if isinstance(event, ErrorEvent) and not event.skip:
                    return
        finally:
            stop.set()
            for worker in workers:
                worker.abort()
            for worker in workers:
                worker.join(timeout=2.0)

    # ------------------------------------------------------------------ HTTP

    def connect(self, timeout: float | None = None) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.endpoint.scheme == "https" else http.client.HTTPConnection
        return cls(self.endpoint.host, self.endpoint.port, timeout=timeout or self.connect_timeout)

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _discover_model(self) -> str | None:
        """The served model's id (GET /models), so the cache key names what answered."""
        try:
            conn = self.connect(timeout=min(5.0, self.connect_timeout))
            try:
                conn.request("GET", f"{self.endpoint.path}/models", headers=self.headers())
                response = conn.getresponse()
                if response.status != 200:
                    return None
                data = json.loads(response.read().decode("utf-8", errors="replace"))
            finally:
                conn.close()
            models = data.get("data") or data.get("models") or []
            if models:
                return str(models[0].get("id") or models[0].get("name") or "") or None
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            pass
        return None

    def body(self, request: Request) -> dict[str, Any]:
        settings = request.settings
        body: dict[str, Any] = {
            "messages": [dict(m) for m in request.messages],
            "stream": True,
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
        }
        if self.model:
            body["model"] = self.model
        if settings.stop:
            body["stop"] = list(settings.stop)
        if settings.temperature > 0:
            body["top_p"] = settings.top_p
        if self._send_extras:
            body.update(top_k=settings.top_k, min_p=settings.min_p,
                        repeat_penalty=settings.repeat_penalty)
            body["stream_options"] = {"include_usage": True}
        return body


class _Worker(threading.Thread):
    """Pulls requests from the shared iterator and streams them, one at a time."""

    def __init__(self, backend: OpenAICompatBackend, source: Iterator[Request],
                 source_lock: threading.Lock, events: queue.Queue, stop: threading.Event,
                 cancel: threading.Event):
        super().__init__(daemon=True)
        self.backend = backend
        self.source = source
        self.source_lock = source_lock
        self.events = events
        self.stop = stop
        self.cancel = cancel
        self.conn: http.client.HTTPConnection | None = None

    def abort(self) -> None:
        """Unblock a read in progress (cancellation)."""
        conn = self.conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _halted(self) -> bool:
        return self.stop.is_set() or self.cancel.is_set()

    def run(self) -> None:
        try:
            while not self._halted():
                with self.source_lock:
                    try:
                        request = next(self.source)
                    except StopIteration:
                        return
                    except Exception as exc:  # noqa: BLE001 - the caller's iterator failed
                        self.events.put(ErrorEvent("", f"request source failed ({exc})", skip=False))
                        self.stop.set()
                        return
                self._serve(request)
        finally:
            if self.conn is not None:
                self.conn.close()
            self.events.put(None)

    def _serve(self, request: Request) -> None:
        backend = self.backend
        self.sent = 0  # characters of this answer already streamed (a retry streams only the rest)
        for attempt in range(MAX_CUT_RETRIES + 1):
            if self._halted():
                return
            try:
                if backend._one_at_a_time:
                    with backend._serial:
                        if self._halted():
                            return
                        response = self._stream(request)
                else:
                    response = self._stream(request)
            except _Cut:
                backend._one_at_a_time = True
                continue
            except _Unreachable as exc:
                if not self._halted():
                    self.events.put(ErrorEvent(request.id, str(exc), skip=False))
                    self.stop.set()
                return
            except _Rejected as exc:
                if backend._send_extras and exc.status in (400, 422) and any(
                        f in str(exc) for f in (*EXTRA_FIELDS, "stream_options")):
                    backend._send_extras = False
                    continue
                fatal = exc.status not in (400, 413, 422)
                self.events.put(ErrorEvent(request.id, f"{backend.base_url}: {exc}", skip=not fatal))
                if fatal:
                    self.stop.set()
                return
            if response is None:  # halted mid-stream: not done, generated again next time
                return
            self.events.put(DoneEvent(request.id, response))
            return
        self.events.put(ErrorEvent(
            request.id, f"{backend.base_url} cut the answer off {MAX_CUT_RETRIES + 1} times "
                        "(no finish_reason); is another client using the server?"))

    def _stream(self, request: Request) -> Response | None:
        """One attempt: the response, or None when halted; raises _Cut, _Rejected, _Unreachable."""
        backend = self.backend
        started = time.perf_counter()
        payload = json.dumps(backend.body(request)).encode("utf-8")
        response = self._post(f"{backend.endpoint.path}/chat/completions", payload)
        stream = TextStream(request.settings.stop)
        first_at = None
        finish = None
        chunks = 0
        usage: dict[str, Any] = {}
        safe = 0  # characters of this attempt that TextStream lets through (no stop can start there)
        try:
            for data in _sse_data(response):
                if self._halted():
                    self._drop_connection()
                    return None
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                if chunk.get("error"):
                    raise _Rejected(500, _one_line(chunk["error"].get("message", chunk["error"])
                                                   if isinstance(chunk["error"], dict) else chunk["error"]))
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = delta.get("content") or ""
                    if piece:
                        chunks += 1
                        if first_at is None:
                            first_at = time.perf_counter()
                        safe += len(stream.feed(piece.encode("utf-8")))
                        self._emit(request.id, stream.text, safe)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                if stream.stopped and finish is None:
                    finish = "stop"  # a stop string the server did not apply
                    self._drop_connection()
                    break
        except (OSError, http.client.HTTPException) as exc:
            if self._halted():
                return None
            self._drop_connection()
            if finish is None:
                raise _Cut() from exc
        if finish is None:
            self._drop_connection()
            raise _Cut()
        stream.finish()
        self._emit(request.id, stream.text, len(stream.text))
        ended = time.perf_counter()
        completion = usage.get("completion_tokens")
        return Response(
            text=stream.text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(completion if completion is not None else chunks),
            finish_reason="length" if finish == "length" else "stop",
            ttft_s=(first_at - started) if first_at else None,
            gen_s=ended - started,
        )

    def _emit(self, request_id: str, text: str, safe: int) -> None:
        """Stream ``text[sent:safe]``: the new part of what is safe to show. After a retry the
        repeated beginning of the answer is not streamed twice (a greedy answer comes back the
        same; should it not, only the DoneEvent's text is the answer)."""
        if safe > self.sent:
            self.events.put(TokenEvent(request_id, text[self.sent:safe]))
            self.sent = safe

    def _post(self, path: str, payload: bytes) -> http.client.HTTPResponse:
        backend = self.backend
        for fresh in (False, True):
            if self.conn is None or fresh:
                self._drop_connection()
                self.conn = backend.connect()
            try:
                self.conn.timeout = backend.connect_timeout
                self.conn.request("POST", path, body=payload, headers=backend.headers())
                if self.conn.sock is not None:
                    self.conn.sock.settimeout(backend.timeout)
                response = self.conn.getresponse()
                break
            except (ConnectionRefusedError, socket.gaierror, socket.timeout) as exc:
                self._drop_connection()
                raise _Unreachable(f"cannot reach {backend.base_url} "
                                   f"({_one_line(exc.strerror or exc)})") from None
            except (OSError, http.client.HTTPException) as exc:
                # A kept-alive connection the server has closed: try once on a fresh one.
                self._drop_connection()
                if fresh:
                    raise _Unreachable(f"cannot reach {backend.base_url} ({_one_line(exc)})") from None
        if response.status != 200:
            body = response.read().decode("utf-8", errors="replace")
            self._drop_connection()
            raise _Rejected(response.status, f"HTTP {response.status}: {_error_message(body)}")
        return response

    def _drop_connection(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None


def _error_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return _one_line(body) or "no message"
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return _one_line(error.get("message") or error.get("detail") or json.dumps(error))
    return _one_line(error)


def _sse_data(response: http.client.HTTPResponse) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent event stream (multi-line events joined)."""
    lines: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            if lines:
                yield "\n".join(lines)
            return
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith(":"):
            continue  # a comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            lines.append(value[1:] if value.startswith(" ") else value)
