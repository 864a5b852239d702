"""A backend for OpenAI-compatible servers: llama-server, vLLM, Ollama, LM Studio, llama_cpp.server.

The server renders the chat template, so ``render`` returns the canonical JSON of the messages
(the cache key is built from it) and ``count_tokens`` cannot tell. The model part of the key is
the served model's fingerprint (``server.identity``), never the URL and name alone.

Up to the pool's capacity of requests are in flight (each server's slot count where it reports
one, else 4), spread over every ``--server`` URL; failures are retried with backoff
(``server.client``).

A stream is only an answer when the server says why it ended (``finish_reason``). A stream that
ends cleanly without one was cut off: llama-cpp-python's own server, with its default
``interrupt_requests``, ends the stream in progress whenever another request arrives. Such a
request is sent again, and from then on that server gets one request at a time; a cut answer is
never reported as done. A connection that breaks mid-stream is a server fault instead (it died
or restarted): the request is retried after a backoff, once the same model answers again.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Iterable, Iterator, Mapping, Sequence

import httpx2 as httpx

from trust_tui.engine.backends.protocol import BackendInfo
from trust_tui.engine.backends.server import completion
from trust_tui.engine.backends.server import identity as identity_mod
from trust_tui.engine.backends.server.client import (
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, DEFAULT_RETRIES, Endpoint, Fatal, Pool, Rejected,
    RetryPolicy, ServerInterrupted, Transient, classify_status, describe_transport, make_endpoint,
)
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Request, Response, TokenEvent
from trust_tui.errors import BackendError

# Tries per request when the server keeps cutting streams off (each after the previous cut).
MAX_CUT_RETRIES = 4
# Empty streams before any answer, after which the server counts as broken rather than the prompts long.
MAX_EMPTY_STREAMS = 5
# llama.cpp-family sampler fields (llama-server, llama_cpp.server, LM Studio accept them): without
# them llama_cpp.server applies its own defaults (repeat_penalty 1.1, min_p 0.05), which change
# even greedy answers. Dropped, for the backend's lifetime, if a server rejects them.
EXTRA_FIELDS = ("top_k", "min_p", "repeat_penalty", "repetition_penalty")


def canonical_messages(messages: Sequence[Mapping[str, str]]) -> str:
    return json.dumps([dict(m) for m in messages], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


class OpenAICompatBackend:
    def __init__(self, servers: str | Sequence[str], model: str | None = None,
                 api_key: str | None = None, concurrency: int | None = None, *,
                 fingerprint: str | None = None, model_file: Mapping[str, Any] | None = None,
                 api_key_env: str | None = None, read_timeout: float = DEFAULT_READ_TIMEOUT,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, retries: int = DEFAULT_RETRIES):
        urls = [servers] if isinstance(servers, str) else list(dict.fromkeys(servers))
        if not urls:
            raise BackendError("no server URL given")
        self.api_key = api_key
        self.api_key_env = api_key_env
        self.read_timeout = float(read_timeout)
        self.retry = RetryPolicy(retries=max(0, int(retries)))
        self._send_extras = True
        self.dropped_fields: list[str] = []
        self.answered = self.empty_streams = 0  # rough counters: a lost update only delays a verdict
        endpoints = [make_endpoint(u, concurrency or 4, connect_timeout, self.read_timeout, api_key_env)
                     for u in urls]
        self.pool = Pool(endpoints, self.retry)
        try:
            self.identities = [identity_mod.identify(e, model, self.headers(), self.read_timeout)
                               for e in endpoints]
        except BackendError as exc:
            self.pool.close()
            raise BackendError(self._auth_hint(str(exc))) from None
        first = self.identities[0]
        for endpoint, ident in zip(endpoints, self.identities):
            endpoint.capacity = max(1, concurrency or ident.slots or 4)
        self.model = first.model
        self.base_url = first.root
        warnings = []
        disagreement = identity_mod.disagreement(self.identities) if len(endpoints) > 1 else ""
        if disagreement and not fingerprint and not model_file:
            self.pool.close()
            raise BackendError(disagreement)
        if disagreement:
            warnings.append(disagreement)
        model_id, source, warning = identity_mod.cache_key(first, fingerprint, model_file)
        if warning:
            warnings.append(warning)
        self.identity_source = source
        self.warning = "; ".join(warnings)
        self.info = BackendInfo(
            kind="server",
            model_id=model_id,
            model_name=(model_file or {}).get("file_name") or self.model or self.base_url,
            template_source="server",
            template_warning=self.warning,
            template_hash=first.template_hash,
            n_ctx=None,  # the server's context is its own; an item too long comes back rejected
            parallel=self.pool.capacity,
            settings={
                "servers": [e.root for e in endpoints], "model": self.model,
                "server_kind": first.kind, "server_version": first.version,
                "fingerprint": model_id.split(":")[-1], "fingerprint_source": source,
                "parallel": self.pool.capacity, "slots": [e.capacity for e in endpoints],
                "read_timeout_s": self.read_timeout, "retries": self.retry.retries,
                "api_key_env": api_key_env,  # the variable's name; the key itself is never kept
            },
            context={
                "server": first.describe(), "server_n_ctx": first.n_ctx,
                "server_declared": first.declared, "server_recorded": first.recorded,
                "server_probe_deterministic": first.deterministic,
                "server_ignored": list(identity_mod.IGNORED_FIELDS.get(first.kind, ())),
                "server_ignored_how": "documented" if first.kind in identity_mod.IGNORED_FIELDS else "",
                "server_dropped": self.dropped_fields,
            },
        )

    def _auth_hint(self, message: str) -> str:
        if self.api_key_env and not self.api_key:
            return f"{message} (${self.api_key_env} is empty or unset)"
        return message

    @property
    def _one_at_a_time(self) -> bool:
        """Whether a server cut concurrent streams and now gets one request at a time."""
        return any(e.cut_streams for e in self.pool.endpoints)

    # ------------------------------------------------------------------ protocol

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        return canonical_messages(messages)

    def count_tokens(self, prompt: str) -> int | None:
        return None

    def close(self) -> None:
        self.pool.close()

    def generate(self, requests: Iterable[Request], cancel: threading.Event) -> Iterator[Event]:
        source = iter(requests)
        source_lock = threading.Lock()
        events: queue.Queue = queue.Queue()
        stop = threading.Event()  # cancelled, or a fatal error: workers stop pulling
        workers = [_Worker(self, source, source_lock, events, stop, cancel)
                   for _ in range(self.pool.capacity)]
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
                if isinstance(event, BaseException):
                    raise event
                if cancel.is_set():
                    return
                yield event
        finally:
            stop.set()
            for worker in workers:
                worker.abort()
            for worker in workers:
                worker.join(timeout=2.0)

    # ------------------------------------------------------------------ HTTP

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def body(self, request: Request, endpoint: Endpoint) -> dict[str, Any]:
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
                        repeat_penalty=settings.repeat_penalty,
                        repetition_penalty=settings.repeat_penalty)
            body["stream_options"] = {"include_usage": True}
        return body

    def verify(self, endpoint: Endpoint) -> None:
        """After a failure: the same model must answer before the URL takes work again."""
        index = self.pool.endpoints.index(endpoint)
        before = self.identities[index]
        try:
            after = identity_mod.probe(endpoint, self.model, self.headers(), self.read_timeout)
        except BackendError as exc:
            raise Transient(str(exc)) from None
        if before.deterministic and after is not None and after != before.probe:
            raise ServerInterrupted(
                f"{endpoint.root} answers differently since it came back: another model is behind "
                "it now; nothing of it was stored (start a new run for the new model)")
        endpoint.recheck = False


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
        self.response: httpx.Response | None = None

    def abort(self) -> None:
        """Unblock a read in progress (cancellation)."""
        response = self.response
        if response is not None:
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing from another thread may race; we stop anyway
                pass

    def _halted(self) -> bool:
        return self.stop.is_set() or self.cancel.is_set()

    def _fatal(self, exc: BaseException) -> None:
        if not self._halted():
            self.events.put(exc)
        self.stop.set()

    def run(self) -> None:
        try:
            while not self._halted():
                with self.source_lock:
                    try:
                        request = next(self.source)
                    except StopIteration:
                        return
                    except Exception as exc:  # noqa: BLE001 - the caller's iterator failed
                        self._fatal(BackendError(f"request source failed ({exc})"))
                        return
                self._serve(request)
        except BackendError as exc:
            self._fatal(exc)
        except Exception as exc:  # noqa: BLE001 - a bug: raised again in the run loop's thread
            if not self._halted():
                self._fatal(exc)
        finally:
            self.events.put(None)

    def _serve(self, request: Request) -> None:
        backend, pool = self.backend, self.backend.pool
        self.sent = 0  # characters of this answer already streamed (a retry streams only the rest)
        faults = cuts = 0
        while not self._halted():
            endpoint = pool.acquire(self._halted)
            if endpoint is None:
                return
            failed, retry_after = False, None
            try:
                if endpoint.recheck:
                    with endpoint.lock:
                        if endpoint.recheck:
                            backend.verify(endpoint)
                response = self._stream(request, endpoint)
            except completion.Cut:
                endpoint.cut_streams = True
                cuts += 1
                if cuts > MAX_CUT_RETRIES:
                    self.events.put(ErrorEvent(
                        request.id, f"{endpoint.root} cut the answer off {cuts} times "
                                    "(no finish_reason); is another client using the server?"))
                    return
                continue
            except Transient as exc:
                failed, retry_after = True, exc.retry_after
                faults += 1
                if faults > backend.retry.retries:
                    raise ServerInterrupted(f"{exc} ({faults} tries)") from None
                continue
            except Rejected as exc:
                if exc.status == 404:
                    listed = ", ".join(backend.identities[0].models) or "none listed"
                    raise BackendError(f"{endpoint.root} no longer serves {backend.model!r} "
                                       f"({exc}); it serves: {listed}") from None
                if backend._send_extras and exc.status in (400, 422) and any(
                        f in str(exc) for f in (*EXTRA_FIELDS, "stream_options")):
                    backend._send_extras = False
                    backend.dropped_fields[:] = [*EXTRA_FIELDS, "stream_options"]
                    continue
                if isinstance(exc, completion.EmptyStream):
                    backend.empty_streams += 1
                    if backend.empty_streams >= MAX_EMPTY_STREAMS and not backend.answered:
                        # every request fails this way: a broken server, not long prompts
                        raise ServerInterrupted(f"{exc} ({backend.empty_streams} requests in a row)") from None
                    self.events.put(ErrorEvent(request.id, str(exc), skip=True))
                    return
                self.events.put(ErrorEvent(request.id, f"{endpoint.root}: {exc}", skip=True))
                return
            except Fatal as exc:
                raise ServerInterrupted(backend._auth_hint(str(exc))) from None
            finally:
                pool.release(endpoint, failed=failed, retry_after=retry_after)
            if response is None:  # halted mid-stream: not done, generated again next time
                return
            backend.answered += 1
            self.events.put(DoneEvent(request.id, response))
            return

    def _stream(self, request: Request, endpoint: Endpoint) -> Response | None:
        """One attempt: the response, or None when halted; raises _Cut, Transient, Rejected, Fatal."""
        backend = self.backend
        started = time.perf_counter()
        url = endpoint.url("/chat/completions")
        try:
            with endpoint.client.stream("POST", url, json=backend.body(request, endpoint),
                                        headers=dict(backend.headers(), Accept="text/event-stream")) as response:
                self.response = response
                if response.status_code != 200:
                    raise classify_status(response.status_code, response.read().decode("utf-8", "replace"),
                                          url, response.headers, endpoint.api_key_env)
                return completion.read(request, response, url, started, self._emit, self._halted)
        except httpx.TransportError as exc:
            if self._halted():
                return None
            raise Transient(describe_transport(exc, url, backend.read_timeout)) from None
        except httpx.StreamError:
            if self._halted():
                return None
            raise
        finally:
            self.response = None

    def _emit(self, request_id: str, text: str, safe: int) -> None:
        """Stream ``text[sent:safe]``: the new part of what is safe to show. After a retry the
        repeated beginning of the answer is not streamed twice (a greedy answer comes back the
        same; should it not, only the DoneEvent's text is the answer)."""
        if safe > self.sent:
            self.events.put(TokenEvent(request_id, text[self.sent:safe]))
            self.sent = safe
