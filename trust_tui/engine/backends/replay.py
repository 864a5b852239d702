"""Answers produced elsewhere, replayed through the run loop so they are stored and scored like any.

A user who already has a model's answers (TrustLLM's generation results, another harness's output)
scores them without a model: this backend answers each request with the text given for that item
and skips, with a reason, the items it has no answer for. The answers file's sha256 is the model
part of every cache key (``answers:<sha256>``), so two unrelated answer sets never share a cached
answer, while scoring the same file again generates nothing.
"""

from __future__ import annotations

import threading
from typing import Iterable, Iterator, Mapping, Sequence

from trust_tui.engine.backends.protocol import BackendInfo
from trust_tui.engine.run.store import canonical_json
from trust_tui.engine.types import DoneEvent, ErrorEvent, Event, Request, Response


def messages_key(messages: Sequence[Mapping[str, str]]) -> str:
    return canonical_json([dict(m) for m in messages])


class ReplayBackend:
    def __init__(self, answers: Mapping[str, str], fingerprint: str, model_name: str, source: str):
        """``answers`` maps ``messages_key(item.messages)`` to the answer text."""
        self.answers = dict(answers)
        self.source = source
        self.info = BackendInfo(
            kind="answers", model_id=f"answers:{fingerprint}", model_name=model_name,
            template_source="external", template_hash="external", n_ctx=None, parallel=1,
            settings={"answers": source, "answers_sha256": fingerprint},
            context={"cpu": "none (answers produced elsewhere)", "threads": 0, "gpu": None},
        )

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        # The prompt the other tool rendered is unknown; the messages are what identifies the item.
        return messages_key(messages)

    def count_tokens(self, prompt: str) -> int | None:
        return None

    def generate(self, requests: Iterable[Request], cancel: threading.Event) -> Iterator[Event]:
        for request in requests:
            if cancel.is_set():
                return
            text = self.answers.get(messages_key(request.messages))
            if text is None:
                yield ErrorEvent(request.id, f"no answer for this item in {self.source}", skip=True)
                continue
            yield DoneEvent(request.id, Response(text=text, prompt_tokens=0, completion_tokens=0,
                                                 finish_reason="stop"))

    def close(self) -> None:
        pass
