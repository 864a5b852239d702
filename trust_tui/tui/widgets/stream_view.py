"""The current prompt and the answer streaming token by token (always shown as literal text)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from trust_tui.tui.text import safe


class StreamView(Widget):
    subtask = reactive("")
    prompt = reactive("")
    answer = reactive("")
    streaming = reactive(False)
    in_flight = reactive(0)
    verdict = reactive("")
    note = reactive("waiting for the first item…")

    def compose(self) -> ComposeResult:
        yield Static(id="stream-head")
        yield Static(id="stream-prompt")
        with VerticalScroll(id="stream-answer-scroll"):
            yield Static(id="stream-answer")

    @property
    def _ready(self) -> bool:
        return self.is_mounted and bool(self.children)

    def on_mount(self) -> None:
        self._refresh_all()

    def watch_subtask(self) -> None:
        self._refresh_head()

    def watch_in_flight(self) -> None:
        self._refresh_head()

    def watch_verdict(self) -> None:
        self._refresh_head()

    def watch_note(self) -> None:
        self._refresh_head()

    def watch_streaming(self) -> None:
        self._refresh_head()
        self._refresh_answer()

    def watch_prompt(self) -> None:
        if self._ready:
            self.query_one("#stream-prompt", Static).update(self._prompt_text())

    def watch_answer(self) -> None:
        self._refresh_answer()

    def _refresh_all(self) -> None:
        if not self._ready:
            return
        self._refresh_head()
        self.query_one("#stream-prompt", Static).update(self._prompt_text())
        self._refresh_answer()

    def _prompt_text(self) -> Text:
        text = Text.assemble(("Prompt  ", "bold"))
        text.append_text(safe(self.prompt) if self.prompt else Text("–", style="dim"))
        return text

    def _refresh_head(self) -> None:
        if not self._ready:
            return
        head = Text()
        if not self.subtask:
            head.append(self.note, style="dim")
        else:
            head.append_text(safe(self.subtask, "bold"))
            if self.streaming:
                head.append("  streaming", style="italic")
            elif self.verdict:
                head.append(f"  {self.verdict}", style=_VERDICT_STYLE.get(self.verdict, ""))
            if self.in_flight > 1:
                head.append(f"  ({self.in_flight} sequences in flight)", style="dim")
        self.query_one("#stream-head", Static).update(head)

    def _refresh_answer(self) -> None:
        if not self._ready:
            return
        text = Text.assemble(("Answer  ", "bold"))
        text.append_text(safe(self.answer))
        if self.streaming:
            text.append("▌", style="reverse")
        self.query_one("#stream-answer", Static).update(text)
        self.query_one("#stream-answer-scroll", VerticalScroll).scroll_end(animate=False)


_VERDICT_STYLE = {"pass": "green", "fail": "red", "unparseable": "yellow", "skipped": "yellow"}
