"""The dimensions to include in a run: space toggles, `o` keeps only the highlighted one."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import SelectionList


class DimensionPicker(SelectionList[str]):
    BINDINGS = [
        Binding("o", "only", "Only this"),
        Binding("a", "all", "All dimensions"),
    ]

    def action_only(self) -> None:
        if self.highlighted is None:
            return
        value = self.get_option_at_index(self.highlighted).value
        self.deselect_all()
        self.select(value)

    def action_all(self) -> None:
        self.select_all()
