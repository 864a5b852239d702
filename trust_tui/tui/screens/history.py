"""Past runs (of one model, or of all): open any scorecard, export it as Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from trust_tui.tui import data
from trust_tui.tui.messages import DataLoaded
from trust_tui.tui.text import safe

if TYPE_CHECKING:  # importing the app loads no engine module (tests/tui/test_comfort.py)
    from trust_tui.engine.run.records import RunRecord

STATUS_STYLE = {"finished": "green", "cancelled": "yellow", "interrupted": "yellow", "failed": "red",
                "running": "cyan"}


class HistoryScreen(Screen):
    BINDINGS = [
        Binding("e", "export", "Export"),
        Binding("m", "toggle_scope", "All models/this"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, model: data.ModelRow | None = None) -> None:
        super().__init__(id="history-screen")
        self.model = model
        self.all_models = model is None
        self.runs: dict[str, data.HistoryRow] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="history-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text("enter opens the scorecard · e exports it as Markdown · * some dimensions only",
                           style="dim"),
                      id="history-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "history"
        table = self.query_one(DataTable)
        table.add_column(Text("Run", justify="right"), key="id")
        table.add_column("Started", key="started")
        table.add_column("Model", key="model", width=18)
        table.add_column("Profile", key="profile")
        table.add_column("Status", key="status")
        table.add_column(Text("Items", justify="right"), key="items")
        table.add_column(Text("Overall", justify="right"), key="overall")
        self._title()

    def on_screen_resume(self) -> None:
        self.load()  # on the first show, and after a drill-down or an export

    def _title(self) -> None:
        text = Text.assemble(("Runs of ", "bold"))
        if self.all_models or self.model is None:
            text = Text("Runs of all models", style="bold")
        else:
            text.append_text(safe(self.model.name, "bold", single_line=True))
        self.query_one("#history-title", Static).update(text)

    def load(self) -> None:
        model = None if self.all_models else self.model

        def read(store) -> list[data.HistoryRow]:
            if model is None:
                return data.history(store, None, None)
            return data.history(store, model.model_id, model.path)

        self.app.service.read(self, "history", read)

    def on_data_loaded(self, message: DataLoaded) -> None:
        if message.key != "history" or message.payload is None:
            return
        table = self.query_one(DataTable)
        keep = table.cursor_row if table.row_count else 0
        table.clear()
        self.runs = {}
        for row in message.payload:
            run = row.run
            key = str(run["id"])
            self.runs[key] = row
            table.add_row(
                Text(key, justify="right"), Text(data.when(run["started"])),
                safe(run["model_name"] or "", single_line=True),
                Text(run["profile"] + ("*" if _partial(run) else "")),
                Text(run["status"], style=STATUS_STYLE.get(run["status"], "")),
                Text(f"{row.finished}/{run['total']}", justify="right"),
                Text(data.percent(row.overall), justify="right"), key=key)
        if not self.runs:
            self.query_one("#history-hint", Static).update(
                Text("No runs yet: go back and press r for a quick run.", style="dim"))
        elif table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1), animate=False)

    def _selected(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_selected(self) -> None:
        run_id = self._selected()
        if run_id is not None:
            self.app.open_screen("scorecard", run_id=run_id)

    def action_export(self) -> None:
        run_id = self._selected()
        if run_id is None:
            self.notify("No run selected.", severity="warning")
            return
        self.app.open_screen("export", run_id=run_id)

    def action_toggle_scope(self) -> None:
        if self.model is None:
            return
        self.all_models = not self.all_models
        self._title()
        self.load()

    def action_back(self) -> None:
        self.dismiss()


def _partial(run: RunRecord) -> bool:
    spec = run.spec_info
    return bool(spec.get("dimensions") or spec.get("subtasks"))
