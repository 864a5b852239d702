"""Messages that carry state up: from engine workers (other threads) to screens.

Workers post these with ``post_message`` (thread-safe). Token messages carry the whole answer
so far, so a newer one can replace an older one that is still queued (``can_replace``): the
UI redraws at its own pace and never falls behind the model.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class RunStageChanged(Message):
    """The engine moved on: "hashing model", "loading model", "running"."""

    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage


class RunEventArrived(Message):
    """A structural engine event: RunPlanned, ItemStarted, ItemFinished or RunFinished."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class AnswerStreamed(Message):
    """The answer of ``uid`` so far; ``tokens_total`` counts every streamed token of the run."""

    def __init__(self, uid: str, subtask: str, text: str, tokens_total: int) -> None:
        super().__init__()
        self.uid = uid
        self.subtask = subtask
        self.text = text
        self.tokens_total = tokens_total

    def can_replace(self, message: Message) -> bool:
        # A queued update for the same sequence holds strictly more text.
        return isinstance(message, AnswerStreamed) and message.uid == self.uid


class RunStopped(Message):
    """The run is over: ``status`` is finished, cancelled or failed (with ``error``); ``note`` is
    the judge's summary line when a judge read the answers."""

    def __init__(self, status: str, error: str = "", run_id: int | None = None,
                 note: str = "") -> None:
        super().__init__()
        self.status = status
        self.error = error
        self.run_id = run_id
        self.note = note


class RecheckProgress(Message):
    """The determinism check of ``run_id``: ``done`` of ``total`` answers asked again."""

    def __init__(self, run_id: int, done: int, total: int, eta: float | None,
                 stage: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.done = done
        self.total = total
        self.eta = eta
        self.stage = stage

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RecheckProgress) and not message.stage and not self.stage


class RecheckStopped(Message):
    """The determinism check is over: finished (``lines``: what it found, saved with the run),
    cancelled or failed (``error``)."""

    def __init__(self, run_id: int, status: str, error: str = "", lines: list[str] | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.status = status
        self.error = error
        self.lines = lines or []


class DataLoaded(Message):
    """A read-side worker finished: ``key`` says which view, ``payload`` is its data."""

    def __init__(self, key: str, payload: Any = None, error: str = "") -> None:
        super().__init__()
        self.key = key
        self.payload = payload
        self.error = error
