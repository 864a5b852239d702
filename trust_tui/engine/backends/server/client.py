"""HTTP to one or more OpenAI-compatible servers: timeouts, retries with backoff, a pool of URLs.

httpx2 (the maintained successor of httpx, already a dependency of the openai client) rather than
the openai package: the run loop needs the raw stream (a missing ``finish_reason`` is how a cut
answer is recognised), per-read timeouts and the non-OpenAI routes servers use to describe their
model (``/props``, ``/api/tags``, ``/openapi.json``), which the openai package hides or lacks.

Failures fall in three kinds, and each is handled in one place:

- ``Transient``: the server is down, restarting, overloaded (429/5xx) or silent past the read
  timeout. The request is tried again after a backoff (exponential, jittered, bounded); the URL
  is set aside for a while so other URLs take the work. Past the retries the run stops as
  *interrupted*: nothing wrong with the run, run it again when the server is back.
- ``Rejected``: the server refused this one request (400/413/422, context exceeded). The item is
  skipped with the server's reason.
- ``Fatal``: no request can succeed (401/403, unknown model, answers that are not JSON).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx2 as httpx

from trust_tui.errors import BackendError

DEFAULT_READ_TIMEOUT = 60.0  # seconds without a byte before a server counts as silent
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_RETRIES = 6


class ServerInterrupted(BackendError):
    """The server stopped answering usefully mid-run: the run is stored as interrupted."""

    run_status = "interrupted"


class Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class Rejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Fatal(Exception):
    pass


def one_line(text: Any, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalise_url(url: str) -> tuple[str, str]:
    """(API root such as ``http://host:8080/v1``, origin ``http://host:8080``)."""
    raw = url.strip()
    parts = urlsplit(raw if "://" in raw else f"http://{raw}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendError(f"{url}: not an http(s) URL of an OpenAI-compatible server")
    try:
        parts.port
    except ValueError:
        raise BackendError(f"{url}: the port is not a number") from None
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):
        path = path[: -len("/chat/completions")]
    return origin + (path or "/v1"), origin


def describe_transport(exc: Exception, url: str, read_timeout: float) -> str:
    """One line for a failure below HTTP: refused, DNS, TLS, timeouts, a dropped connection."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    host = urlsplit(url).hostname or url
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot reach {url}: no answer to the connection within the connect timeout"
    if isinstance(exc, httpx.ReadTimeout):
        return f"{url} accepted the request but sent nothing for {read_timeout:g} s (--server-timeout)"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in lowered:
            return f"cannot reach {url}: connection refused (is the server running on that port?)"
        if any(s in lowered for s in ("name or service not known", "nodename nor servname",
                                      "temporary failure in name resolution", "getaddrinfo",
                                      "no address associated")):
            return f"cannot reach {url}: the host name {host!r} does not resolve (DNS)"
        if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
            return f"cannot reach {url}: TLS failed ({one_line(text, 120)})"
        return f"cannot reach {url} ({one_line(text, 120)})"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return f"{url} dropped the connection ({one_line(text, 120)})"
    return f"{url}: {type(exc).__name__}: {one_line(text, 120)}"


def error_message(body: str) -> str:
    """The human part of an error body (OpenAI ``{"error": {"message"}}``, FastAPI ``detail``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return one_line(body) or "no message"
    error = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return one_line(error.get("message") or error.get("detail") or json.dumps(error))
    if isinstance(error, list):  # FastAPI validation errors
        return one_line("; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e) for e in error))
    return one_line(error)


CONTEXT_MARKERS = ("context length", "context window", "context size", "exceed_context",
                   "context_length_exceeded", "maximum context", "too many tokens")


def classify_status(status: int, body: str, url: str, headers: Any = None,
                    api_key_env: str | None = None) -> Exception:
    """The exception for a non-200 answer."""
    message = error_message(body)
    if status in (401, 403):
        hint = (f"the key in ${api_key_env} was refused" if api_key_env
                else "it wants an API key: put it in an environment variable and pass --api-key-env NAME")
        return Fatal(f"{url} refused the request (HTTP {status}: {message}); {hint}")
    if status == 429 or status >= 500:
        retry_after = None
        value = (headers or {}).get("retry-after") if headers is not None else None
        if value:
            try:
                retry_after = min(60.0, float(value))
            except ValueError:
                pass
        what = "is overloaded" if status in (429, 503) else "failed"
        return Transient(f"{url} {what} (HTTP {status}: {message})", retry_after=retry_after)
    if status == 404:
        return Rejected(404, message)
    lowered = message.lower()
    if any(m in lowered for m in CONTEXT_MARKERS):
        return Rejected(status, f"context exceeded: {message}")
    return Rejected(status, f"HTTP {status}: {message}")


@dataclass(frozen=True)
class RetryPolicy:
    """Tries after the first, and the backoff between them: base·2^n with equal jitter (half
    fixed, half random), capped, so a restarting server gets about 15-30 s before the run stops."""

    retries: int = DEFAULT_RETRIES
    base_s: float = 0.5
    cap_s: float = 15.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * (2 ** attempt))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(wait, retry_after or 0.0)


@dataclass
class Endpoint:
    """One server URL: its HTTP client, how much it may take at once, whether it is set aside."""

    root: str
    origin: str
    client: httpx.Client
    capacity: int = 4
    in_flight: int = 0
    failures: int = 0
    dead_until: float = 0.0
    recheck: bool = False  # it failed; make sure the same model answers before using it again
    cut_streams: bool = False  # it ends a stream when another request arrives: one at a time
    api_key_env: str | None = None  # named in a refused-key message
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.root + path if path.startswith("/") else f"{self.root}/{path}"

    def get_json(self, path: str, timeout: float, headers: dict[str, str], origin: bool = False,
                 method: str = "GET", body: Any = None) -> Any:
        """One small JSON request (identity probes): the parsed body, or raises
        Transient/Rejected/Fatal. A 404 is Rejected, so callers can treat the route as absent."""
        url = (self.origin + path) if origin else self.url(path)
        try:
            response = self.client.request(method, url, json=body, headers=headers, timeout=timeout)
        except httpx.TransportError as exc:
            raise Transient(describe_transport(exc, url, timeout)) from None
        if response.status_code != 200:
            raise classify_status(response.status_code, response.text, url, response.headers,
                                  self.api_key_env)
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise Fatal(f"{url} answered 200 with something that is not JSON ({kind}: "
                        f"{one_line(response.text, 60)!r}); is {self.root} the API root of an "
                        "OpenAI-compatible server (usually ending in /v1)?") from None


def make_endpoint(url: str, capacity: int, connect_timeout: float, read_timeout: float,
                  api_key_env: str | None = None) -> Endpoint:
    root, origin = normalise_url(url)
    timeout = httpx.Timeout(connect=connect_timeout, read=read_timeout, write=30.0, pool=None)
    limits = httpx.Limits(max_connections=max(8, capacity + 4), max_keepalive_connections=max(8, capacity + 4))
    client = httpx.Client(timeout=timeout, limits=limits, follow_redirects=False)
    return Endpoint(root=root, origin=origin, client=client, capacity=max(1, capacity),
                    api_key_env=api_key_env)


class Pool:
    """Several URLs serving the same model share the work: the one with the fewest requests in
    flight takes the next; one that fails is set aside for a backoff and tried again later."""

    def __init__(self, endpoints: list[Endpoint], retry: RetryPolicy):
        self.endpoints = endpoints
        self.retry = retry
        self._cond = threading.Condition()

    @property
    def capacity(self) -> int:
        return sum(e.capacity for e in self.endpoints)

    def acquire(self, halted) -> Endpoint | None:
        """An endpoint with room (its in-flight count raised), or None once ``halted()``."""
        with self._cond:
            while not halted():
                now = time.monotonic()
                ready = [e for e in self.endpoints if e.dead_until <= now
                         and e.in_flight < (1 if e.cut_streams else e.capacity)]
                if ready:
                    chosen = min(ready, key=lambda e: e.in_flight)
                    chosen.in_flight += 1
                    return chosen
                pending = [e.dead_until - now for e in self.endpoints if e.dead_until > now]
                self._cond.wait(timeout=min([0.25, *pending]))
        return None

    def release(self, endpoint: Endpoint, failed: bool = False, retry_after: float | None = None) -> None:
        with self._cond:
            endpoint.in_flight -= 1
            if failed:
                endpoint.failures += 1
                endpoint.dead_until = time.monotonic() + self.retry.delay(endpoint.failures - 1, retry_after)
                endpoint.recheck = True
            else:
                endpoint.failures = 0
            self._cond.notify_all()

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.client.close()


def sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent event stream (multi-line events joined)."""
    buffer: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue  # a comment / keep-alive
        name, _, value = line.partition(":")
        if name == "data":
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        yield "\n".join(buffer)
