"""The backend protocol: requests in, events out, in any order.

The run loop hands a backend an *iterator* of requests and reads events back. A backend may
pull requests lazily (a batched engine refills a slot as soon as a sequence finishes), run them
one at a time (a plain loop), in a child process, or behind an HTTP server: the run loop never
knows which. Cancellation is a ``threading.Event``: when it is set the backend stops pulling
requests, finishes or abandons what is in flight, and returns; anything it did not report as
done is simply generated again next time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

from trust_tui.engine.types import Event, Request


@dataclass(frozen=True)
class BackendInfo:
    """What a backend tells the run loop and the store about itself.

    ``model_id`` is the model part of every cache key: the file's sha256 for local models,
    ``server:<base_url>:<model>`` for a remote engine. ``template_source`` is ``gguf`` when the
    model's own chat template renders prompts and ``fallback`` (with ``template_warning``) when
    a plain template had to be used.
    """

    kind: str
    model_id: str
    model_name: str
    template_source: str
    template_warning: str = ""
    template_hash: str = ""
    n_ctx: int | None = None  # tokens available to one sequence (prompt + answer)
    parallel: int = 1
    settings: Mapping[str, Any] = field(default_factory=dict)  # n_gpu_layers, threads, ...
    context: Mapping[str, Any] = field(default_factory=dict)  # hardware and build


@runtime_checkable
class Backend(Protocol):
    info: BackendInfo

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The exact prompt text the model will see (the cache key is built from it)."""

    def count_tokens(self, prompt: str) -> int | None:
        """Tokens in a rendered prompt, or None when the backend cannot tell."""

    def generate(self, requests: Iterable[Request], cancel: threading.Event) -> Iterator[Event]:
        """Yield TokenEvent / DoneEvent / ErrorEvent for the requests, in any order."""

    def close(self) -> None:
        """Free the model (and stop any child process or connection)."""
