"""The engine's listener: engine events (on the worker thread) become app messages.

Tokens are accumulated per sequence, and each token message carries the whole answer so far,
so queued token messages can replace one another (see ``AnswerStreamed.can_replace``).
"""

from __future__ import annotations

from textual.message_pump import MessagePump

from trust_tui.tui.messages import AnswerStreamed, RunEventArrived, RunStageChanged


class EngineBridge:
    """The engine's listener (called on the worker thread): events become messages."""

    def __init__(self, screen: MessagePump) -> None:
        from trust_tui.engine.run import loop as run  # the worker thread imports the engine, never the app

        self._types = (run.ItemToken, run.RunPlanned, run.ItemStarted, run.ItemFinished)
        self.screen = screen
        self.answers: dict[str, str] = {}
        self.tokens = 0
        self.run_id: int | None = None

    def __call__(self, event) -> None:
        ItemToken, RunPlanned, ItemStarted, ItemFinished = self._types  # noqa: N806
        if isinstance(event, ItemToken):
            self.tokens += 1
            text = self.answers.get(event.uid, "") + event.text
            self.answers[event.uid] = text
            self.screen.post_message(AnswerStreamed(event.uid, event.subtask, text, self.tokens))
            return
        if isinstance(event, RunPlanned):
            self.run_id = event.run_id
        elif isinstance(event, ItemStarted):
            self.answers[event.uid] = ""
        elif isinstance(event, ItemFinished):
            self.answers.pop(event.uid, None)
        self.screen.post_message(RunEventArrived(event))

    def stage(self, text: str) -> None:
        self.screen.post_message(RunStageChanged(text))
