"""The first screen: GGUF models found where users keep them, with their last overall score."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from trust_tui.tui import data
from trust_tui.tui.messages import DataLoaded
from trust_tui.tui.text import safe

SOURCE_LABELS = {
    "embedded": "embedded", "folder": "my folder", "huggingface": "HF cache",
    "lmstudio": "LM Studio", "llama.cpp": "llama.cpp", "ollama": "Ollama", "path": "opened",
    "trust-tui": "quantized here", "server": "server",
}


class ModelsScreen(Screen):
    """Pick a model; `r` runs the quick profile on it with the defaults."""

    BINDINGS = [
        Binding("r", "quick_run", "Quick run"),
        Binding("s", "setup", "Setup"),
        Binding("h", "history", "History"),
        Binding("o", "open_file", "Open"),
        Binding("a", "add_folder", "Add folder"),
        Binding("v", "server", "Server"),
        Binding("f5", "rescan", "Rescan", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="models-screen")
        self.rows: dict[str, data.ModelRow] = {}
        self.loaded = False
        self.seen_version = -1
        self.pending: str | None = None  # an action pressed before the first list arrived

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="models-hint")
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="model-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "models"
        table = self.query_one(DataTable)
        table.add_column("Model", key="name")
        table.add_column("Source", key="source")
        table.add_column("Quant", key="quant")
        table.add_column(Text("Size", justify="right"), key="size")
        table.add_column(Text("Params", justify="right"), key="params")
        table.add_column(Text("Score", justify="right"), key="score")
        table.add_column("When", key="when")
        self.query_one("#models-hint", Static).update(Text("Looking for models…", style="dim"))
        self.query_one("#model-detail", Static).update("")
        self.load_models(self.app.config.model)

    def on_screen_resume(self) -> None:
        if self.loaded and self.seen_version != self.app.service.data_version:
            self.load_models(self.selected_key())  # a run ended since: refresh the last scores

    # ------------------------------------------------------------------ loading

    def load_models(self, preferred: str | None = None) -> None:
        config = self.app.config
        version = self.app.service.data_version
        extra, discover = list(self.app.extra_models), config.discover

        def read(store) -> tuple[list[data.ModelRow], str | None, int]:
            found = data.discover_models(extra, discover)
            return [data.read_model_row(entry, store) for entry in found], preferred, version

        self.app.service.read(self, "models", read)

    def on_data_loaded(self, message: DataLoaded) -> None:
        if message.key == "models" and message.payload is not None:
            self._show_models(*message.payload)

    def _show_models(self, rows: list[data.ModelRow], preferred: str | None, version: int) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.rows = {row.key: row for row in rows}
        for row in rows:
            table.add_row(*self._cells(row), key=row.key)
        self.loaded = True
        self.seen_version = version
        hint = self.query_one("#models-hint", Static)
        if not rows:
            hint.update(Text("No GGUF models found: press o to open a file or a to add a folder.",
                             style="yellow"))
        else:
            hint.update(Text(f"{len(rows)} model{'s' if len(rows) != 1 else ''} · "
                             "r quick run · s set up · h history", style="dim"))
        key = self._preferred_key(preferred)
        if key is not None:
            table.move_cursor(row=table.get_row_index(key), animate=False)
        self._show_detail()
        if self.pending:
            action, self.pending = self.pending, None
            getattr(self, f"action_{action}")()

    def _preferred_key(self, preferred: str | None) -> str | None:
        if not self.rows:
            return None
        if preferred:
            wanted = {preferred, str(Path(preferred).expanduser())}
            try:
                wanted.add(str(Path(preferred).expanduser().resolve()))
            except OSError:
                pass
            for key, row in self.rows.items():
                if key in wanted or str(row.path.resolve()) in wanted:
                    return key
        for key, row in self.rows.items():
            if row.source == "embedded":
                return key
        return next(iter(self.rows))

    def _cells(self, row: data.ModelRow) -> list[Text]:
        name = safe(row.name, single_line=True)
        if row.error:
            return [name, Text(SOURCE_LABELS.get(row.source, row.source)),
                    Text("unreadable", style="red"), Text(""), Text(""), Text(""), Text("")]
        score = Text(data.percent(row.last_score), justify="right")
        return [
            name, Text(SOURCE_LABELS.get(row.source, row.source)), Text(row.quant),
            Text(data.human_size(row.size), justify="right"),
            Text(data.human_params(row.parameters), justify="right"),
            score, Text(data.day(row.last_when) if row.last_when else "never run",
                        style="" if row.last_when else "dim"),
        ]

    # ------------------------------------------------------------------ selection

    def selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.rows or table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def selected(self) -> data.ModelRow | None:
        key = self.selected_key()
        return self.rows.get(key) if key else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_setup()

    def _show_detail(self) -> None:
        row = self.selected()
        detail = self.query_one("#model-detail", Static)
        if row is None:
            detail.update("")
            return
        text = Text()
        text.append_text(safe(data.home_short(row.path), single_line=True))
        text.append("\n")
        if row.error:
            text.append_text(safe(row.error, "red"))
        else:
            text.append(f"{row.architecture} · context {row.context_length or '?'} · ")
            text.append("chat template" if row.has_chat_template else "no chat template",
                        style="" if row.has_chat_template else "yellow")
            if row.last_run_id:
                text.append(f" · last run #{row.last_run_id}")
            if row.provenance:  # quantizer, source, imatrix: what the file itself states
                text.append(" · ")
                text.append_text(safe(row.provenance, "dim", single_line=True))
        detail.update(text)

    def _usable(self, action: str) -> data.ModelRow | None:
        row = self.selected()
        if row is None and not self.loaded:
            self.pending = action  # done as soon as the models are listed
            self.notify("Looking for models…")
            return None
        if row is None:
            self.notify("No model selected.", severity="warning")
            return None
        if row.error:
            self.notify(row.error, title="Cannot use this model", severity="error", markup=False)
            return None
        return row

    # ------------------------------------------------------------------ actions

    def action_quick_run(self) -> None:
        row = self._usable("quick_run")
        if row is not None:
            self.app.quick_run(row)

    def action_setup(self) -> None:
        row = self._usable("setup")
        if row is not None:
            self.app.open_screen("setup", model=row)

    def action_server(self) -> None:
        """Audit a model behind an OpenAI-compatible server instead of a file."""
        row = data.ModelRow(path=Path("server"), name="a model behind an OpenAI-compatible server",
                            source="server")
        self.app.open_screen("setup", model=row)

    def action_history(self) -> None:
        self.app.open_screen("history", model=self.selected())

    def action_rescan(self) -> None:
        self.load_models(self.selected_key())

    def action_open_file(self) -> None:
        def opened(value: str | None) -> None:
            if not value:
                return
            path = Path(value).expanduser()
            if not path.is_file():
                self.notify(f"{path}: no such file", severity="error", markup=False)
                return
            self.app.extra_models.append(path)
            self.load_models(str(path))

        self.app.open_screen("prompt", title="Open a GGUF file", placeholder="/path/to/model.gguf",
                             callback=opened)

    def action_add_folder(self) -> None:
        def chosen(value: str | None) -> None:
            if not value:
                return
            from trust_tui.engine.models import discovery

            folder = Path(value).expanduser()
            if not folder.is_dir():
                self.notify(f"{folder}: not a folder", severity="error", markup=False)
                return
            discovery.add_folder(folder)
            self.notify(f"Added {folder}; it is remembered for next time.", markup=False)
            self.load_models(self.selected_key())

        self.app.open_screen("prompt", title="Add a folder of GGUF models",
                             placeholder="~/models", callback=chosen)
