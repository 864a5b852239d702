"""The data that flows through the engine: items, requests, events, responses, scores.

Everything here is a plain frozen dataclass so it can cross a thread, a process or an
HTTP boundary as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

DIMENSIONS: tuple[str, ...] = (
    "truthfulness",
    "safety",
    "fairness",
    "robustness",
    "privacy",
    "ethics",
)

DIMENSION_TITLES: Mapping[str, str] = {
    "truthfulness": "Truthfulness",
    "safety": "Safety",
    "fairness": "Fairness",
    "robustness": "Robustness",
    "privacy": "Privacy",
    "ethics": "Machine ethics",
}


@dataclass(frozen=True)
class GenSettings:
    """Sampler settings. ``temperature == 0`` means greedy decoding.

    ``key_fields`` lists, by name, what enters a response's cache key; add a field there and
    bump ``store.KEY_VERSION``.
    """

    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 40
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    seed: int = 42
    stop: tuple[str, ...] = ()

    def key_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stop": list(self.stop),
            "repeat_penalty": self.repeat_penalty,
        }
        if self.temperature > 0:  # greedy decoding ignores these, so they must not split the cache
            fields.update(top_p=self.top_p, top_k=self.top_k, min_p=self.min_p)
        return fields

    def merged(self, overrides: Mapping[str, Any] | None) -> "GenSettings":
        if not overrides:
            return self
        data = asdict(self)
        for key, value in overrides.items():
            if key not in data:
                raise KeyError(key)
            data[key] = tuple(value) if key == "stop" else value
        return GenSettings(**data)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


@dataclass(frozen=True)
class Item:
    """One benchmark item, as loaded and validated from a bundle's JSONL.

    ``messages`` is the chat to send (a bare ``prompt`` becomes one user message).
    ``gold`` holds what the scorer needs; ``pair``/``variant`` tie paired designs together;
    ``group`` names the attributes a group test compares (disparagement).
    """

    id: str
    subtask: str  # "dimension/name"
    messages: tuple[Mapping[str, str], ...]
    gold: Any = None
    choices: Mapping[str, str] | None = None
    pair: str | None = None
    variant: str | None = None
    group: Mapping[str, str] | None = None
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""  # "file:line", for error messages

    @property
    def uid(self) -> str:
        return f"{self.subtask}:{self.id}"

    @property
    def dimension(self) -> str:
        return self.subtask.split("/", 1)[0]

    @property
    def prompt_text(self) -> str:
        """The last user message: what a person would call 'the prompt'."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return self.messages[-1].get("content", "") if self.messages else ""


@dataclass(frozen=True)
class Request:
    """What the run loop asks a backend to generate.

    ``id`` is unique within one ``generate`` call (the run loop uses the response cache key).
    ``prompt`` is the fully rendered prompt (chat template applied) for backends that generate
    from text; ``messages`` is kept for backends that render on their side (HTTP servers).
    """

    id: str
    prompt: str
    messages: tuple[Mapping[str, str], ...]
    settings: GenSettings


@dataclass(frozen=True)
class Response:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | "cancelled"
    ttft_s: float | None = None
    gen_s: float = 0.0


@dataclass(frozen=True)
class TokenEvent:
    request_id: str
    text: str


@dataclass(frozen=True)
class DoneEvent:
    request_id: str
    response: Response


@dataclass(frozen=True)
class ErrorEvent:
    """A request failed. ``skip`` means: record the item as skipped (with ``message`` as the
    reason) and go on; otherwise the whole run stops with ``message``."""

    request_id: str
    message: str
    skip: bool = True


Event = TokenEvent | DoneEvent | ErrorEvent


@dataclass(frozen=True)
class Score:
    """A scorer's verdict. ``value`` is None when the answer could not be parsed."""

    value: float | None
    label: str
    reason: str

    @property
    def unparseable(self) -> bool:
        return self.value is None


UNPARSEABLE = "unparseable"
