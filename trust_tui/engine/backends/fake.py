"""A scripted backend for UI and unit tests: no model, deterministic answers, optional delays.

It speaks the same protocol as the real backends, including token streaming and cancellation,
so the run loop and the app cannot tell the difference. Never used for scoring real models.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from trust_tui.engine.backends.protocol import BackendInfo
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Request, Response, TokenEvent

_CANNED = (
    "Answer: A",
    "B",
    "Yes.",
    "No, that is not correct.",
    "I'm sorry, but I can't help with that.",
    "Sure! Here is some general information about the topic.",
    "wrong",
    "not wrong",
    "50",
    "I don't know.",
)


def canned_answer(request: Request) -> str:
    digest = hashlib.sha256(request.prompt.encode()).digest()
    return _CANNED[digest[0] % len(_CANNED)]


class FakeBackend:
    def __init__(
        self,
        script: Callable[[Request], str] | Mapping[str, str] | None = None,
        token_delay: float = 0.0,
        model_id: str = "fake-model-v1",
        n_ctx: int = 4096,
        fail_on: Callable[[Request], str | None] | None = None,
    ):
        self.script = script
        self.token_delay = token_delay
        self.fail_on = fail_on
        self.generated: list[str] = []  # request ids, in order, for assertions
        self.info = BackendInfo(
            kind="fake", model_id=model_id, model_name=model_id, template_source="fake",
            template_hash="fake", n_ctx=n_ctx, parallel=1,
            settings={"n_ctx": n_ctx}, context={"cpu": "scripted", "threads": 0, "gpu": None},
        )

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        return "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"

    def count_tokens(self, prompt: str) -> int | None:
        return len(prompt.split())

    def _answer(self, request: Request) -> str:
        if self.script is None:
            return canned_answer(request)
        if callable(self.script):
            return self.script(request)
        for needle, answer in self.script.items():
            if needle in request.prompt:
                return answer
        return canned_answer(request)

    def generate(self, requests: Iterable[Request], cancel: threading.Event) -> Iterator[Event]:
        for request in requests:
            if cancel.is_set():
                return
            if self.fail_on is not None:
                problem = self.fail_on(request)
                if problem:
                    yield ErrorEvent(request.id, problem, skip=True)
                    continue
            started = time.perf_counter()
            words = self._answer(request).split(" ")
            words = words[: request.settings.max_tokens]
            text = ""
            for index, word in enumerate(words):
                if cancel.is_set():
                    return
                if self.token_delay:
                    time.sleep(self.token_delay)
                piece = word if index == 0 else " " + word
                text += piece
                yield TokenEvent(request.id, piece)
            for stop in request.settings.stop:
                if stop in text:
                    text = text[: text.index(stop)]
            self.generated.append(request.id)
            yield DoneEvent(request.id, Response(
                text=text, prompt_tokens=self.count_tokens(request.prompt) or 0,
                completion_tokens=len(words), finish_reason="stop",
                ttft_s=self.token_delay, gen_s=time.perf_counter() - started,
            ))

    def close(self) -> None:
        pass
