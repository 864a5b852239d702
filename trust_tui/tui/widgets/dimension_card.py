"""One of the six dimension cards of the run screen: score with CI, items done/total, a bar."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


def score_style(value: float | None) -> str:
    if value is None:
        return "dim"
    if value >= 0.8:
        return "green"
    if value >= 0.5:
        return "yellow"
    return "red"


class DimensionCard(Widget, can_focus=True):
    """Filled in live from the scorecard; click it (or press enter) to drill down."""

    BINDINGS = [("enter", "open", "Items")]

    value: reactive[float | None] = reactive(None)
    ci: reactive[tuple[float, float] | None] = reactive(None)
    finished = reactive(0)
    total = reactive(0)
    included = reactive(True)
    subtasks = reactive(0)

    class Selected(Message):
        def __init__(self, dimension: str) -> None:
            super().__init__()
            self.dimension = dimension

    def __init__(self, dimension: str, title: str, **kwargs) -> None:
        super().__init__(id=f"card-{dimension}", **kwargs)
        self.dimension = dimension
        self.title = title

    def watch_included(self, included: bool) -> None:
        self.set_class(not included, "-excluded")

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(self.title, style="bold")
        text.append("\n")
        if not self.included:
            text.append("not in this run", style="dim")
            return text
        if self.value is None:
            text.append("–", style="dim")
        else:
            text.append(f"{100 * self.value:.1f}%", style=f"bold {score_style(self.value)}")
            if self.ci is not None:
                text.append(f" [{100 * self.ci[0]:.0f}–{100 * self.ci[1]:.0f}]", style="dim")
        text.append("\n")
        count = f"{self.finished}/{self.total} "
        text.append(count)
        width = max(4, self.content_region.width - len(count))
        filled = round(width * self.finished / self.total) if self.total else 0
        text.append("█" * filled, style=score_style(self.value) if self.value is not None else "")
        text.append("░" * (width - filled), style="dim")
        return text

    def on_click(self) -> None:
        self.post_message(self.Selected(self.dimension))

    def action_open(self) -> None:
        self.post_message(self.Selected(self.dimension))
