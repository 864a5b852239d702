"""One item in full: prompt, the whole answer, its score and the scorer's reason."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from trust_tui.tui.text import safe

VERDICT_STYLE = {"pass": "green", "fail": "bold red", "unparseable": "bold yellow", "uncertain": "bold magenta",
                 "skipped": "yellow", "pending": "dim", "scored": ""}


class ItemDetail(VerticalScroll):
    """Shows ``row`` (a ``Store.item_rows`` row) with its ``verdict``."""

    row: reactive[dict | None] = reactive(None)
    verdict = reactive("")

    def compose(self) -> ComposeResult:
        yield Static(id="detail-head")
        yield Static(id="detail-prompt")
        yield Static(id="detail-answer")
        yield Static(id="detail-reason")

    def on_mount(self) -> None:
        self._show()

    def watch_row(self) -> None:
        self._show()

    def watch_verdict(self) -> None:
        self._show()

    def _show(self) -> None:
        if not self.is_mounted or not self.children:
            return
        row = self.row
        head, prompt, answer, reason = (self.query_one(f"#detail-{n}", Static)
                                        for n in ("head", "prompt", "answer", "reason"))
        if row is None:
            head.update(Text("no item selected", style="dim"))
            for widget in (prompt, answer, reason):
                widget.update("")
            return
        from trust_tui.engine.run.records import item_of  # the app imports no engine module up front

        item = item_of(row)
        title = Text()
        title.append_text(safe(row["uid"], "bold"))
        title.append("  ")
        title.append(self.verdict or row["status"], style=VERDICT_STYLE.get(self.verdict, ""))
        if row.get("scored"):
            value = row["score_value"]
            title.append(f"  score {'–' if value is None else f'{value:g}'}")
            if row.get("score_label"):
                title.append("  label ")
                title.append_text(safe(row["score_label"]))
        if item.get("gold") is not None:
            title.append("  gold ")
            title.append_text(safe(json.dumps(item["gold"], ensure_ascii=False)))
        if row.get("cached"):
            title.append("  (cached answer)", style="dim")
        head.update(title)
        prompt.update(_section("Prompt", _prompt_of(item)))
        if row["status"] == "skipped":
            answer.update(_section("Answer", "(skipped)"))
            reason.update(_section("Why skipped", row.get("reason") or ""))
        else:
            answer.update(_section("Answer", row.get("answer")))
            reason.update(_section("Scorer's reason", row.get("score_reason") or "–"))


def _prompt_of(item: dict) -> str:
    messages = item.get("messages") or []
    parts = []
    for message in messages:
        if message.get("role") == "user" and len(messages) == 1:
            parts.append(message.get("content", ""))
        else:
            parts.append(f"[{message.get('role')}] {message.get('content', '')}")
    return "\n".join(parts)


def _section(title: str, body: object) -> Text:
    text = Text.assemble((title, "bold underline"))
    text.append("\n")
    text.append_text(safe(body))
    text.append("\n")
    return text
