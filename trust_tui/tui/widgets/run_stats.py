"""One line of run progress: stage, items, tok/s, elapsed and ETA."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from trust_tui.tui.data import duration


class RunStats(Widget):
    stage = reactive("starting")
    finished = reactive(0)
    total = reactive(0)
    cached = reactive(0)
    tok_s: reactive[float | None] = reactive(None)
    elapsed: reactive[float | None] = reactive(None)
    eta: reactive[float | None] = reactive(None)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        style = {"finished": "bold green", "cancelled": "bold yellow", "failed": "bold red"}
        text.append(self.stage, style=style.get(self.stage.split(":")[0], "bold"))
        text.append(f" · {self.finished}/{self.total} items")
        if self.cached:
            text.append(f" ({self.cached} cached)", style="dim")
        text.append(" · ")
        text.append(f"{self.tok_s:.1f} tok/s" if self.tok_s is not None else "– tok/s")
        text.append(f" · elapsed {duration(self.elapsed)}")
        text.append(f" · ETA {duration(self.eta)}")
        return text
