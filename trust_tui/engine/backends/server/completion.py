"""Reading one chat completion from a server: the SSE stream (or a whole JSON answer), turned
into a ``Response`` only when the server said why it ended."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import httpx2 as httpx

from trust_tui.engine.backends.server.client import CONTEXT_MARKERS, Fatal, Rejected, Transient, error_message, sse_data
from trust_tui.engine.backends.textstream import TextStream
from trust_tui.engine.types import Request, Response


class Cut(Exception):
    """The stream ended cleanly without a finish_reason: the answer was cut off."""


class EmptyStream(Rejected):
    """A well-formed event stream with nothing in it: the server failed this one request."""

    def __init__(self, message: str):
        super().__init__(200, message)


def read(request: Request, response: httpx.Response, url: str, started: float,
         emit: Callable[[str, str, int], None], halted: Callable[[], bool]) -> Response | None:
    """The answer in ``response`` (an SSE stream, or a whole JSON completion from a server that
    ignored stream=true); None when ``halted()``; raises Cut, Transient, Rejected, Fatal."""
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and "event-stream" not in content_type:
        return _whole(request, response, url, started, emit)  # the server ignored stream=true
    stream = TextStream(request.settings.stop)
    first_at = finish = None
    chunks = parsed = 0
    usage: dict[str, Any] = {}
    safe = 0  # characters of this attempt that TextStream lets through (no stop can start there)
    for data in sse_data(response.iter_lines()):
        if halted():
            return None
        if data == "[DONE]":
            parsed += 1  # a well-formed stream, even if it carried nothing else
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            continue
        if not isinstance(chunk, dict):
            continue
        parsed += 1
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        if chunk.get("error"):
            message = error_message(json.dumps({"error": chunk["error"]}))
            if any(m in message.lower() for m in CONTEXT_MARKERS):
                raise Rejected(400, f"context exceeded: {message}")
            raise Transient(f"{url} failed mid-answer ({message})")
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = delta.get("content") or ""
            if piece:
                chunks += 1
                if first_at is None:
                    first_at = time.perf_counter()
                safe += len(stream.feed(piece.encode("utf-8")))
                emit(request.id, stream.text, safe)
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        if stream.stopped and finish is None:
            finish = "stop"  # a stop string the server did not apply
            break
    if finish is None:
        if not parsed and "event-stream" in content_type:
            # llama-cpp-python's server fails a request after its 200 header this way, e.g. when
            # the prompt does not fit its context: the error goes to its log, not to the client.
            raise EmptyStream(f"{url} ended the stream without an answer or an error (llama-cpp-python "
                              "does this when the prompt does not fit its context: start it with a larger --n_ctx)")
        if not parsed:
            raise Fatal(f"{url} answered 200 without a single JSON event ({content_type or 'no content type'}); "
                        "is this an OpenAI-compatible API root?")
        raise Cut()
    stream.finish()
    emit(request.id, stream.text, len(stream.text))
    completion = usage.get("completion_tokens")
    return Response(
        text=stream.text,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(completion if completion is not None else chunks),
        finish_reason="length" if finish == "length" else "stop",
        ttft_s=(first_at - started) if first_at else None,
        gen_s=time.perf_counter() - started,
    )

def _whole(request: Request, response: httpx.Response, url: str, started: float,
           emit: Callable[[str, str, int], None]) -> Response:
    try:
        data = json.loads(response.read())
        choice = data["choices"][0]
        text = str((choice.get("message") or {}).get("content") or "")
        finish = choice.get("finish_reason") or "stop"
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise Fatal(f"{url} answered 200 with JSON that is not a chat completion") from None
    stream = TextStream(request.settings.stop)
    stream.feed(text.encode("utf-8"))
    stream.finish()
    emit(request.id, stream.text, len(stream.text))
    usage = data.get("usage") or {}
    return Response(text=stream.text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                    finish_reason="length" if finish == "length" else "stop",
                    ttft_s=None, gen_s=time.perf_counter() - started)
