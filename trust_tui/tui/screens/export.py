"""Export a run's scorecard as Markdown to a path the user chooses, and say where it went."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from trust_tui.tui.text import safe


def default_export_path(run_id: int) -> Path:
    return Path.cwd() / f"trust-tui-run-{run_id}.md"


def export_markdown(store, run_id: int, target: Path) -> Path:
    """Write the run's Markdown scorecard (the same text as `trust-tui export`)."""
    from trust_tui.export import markdown, report

    text = markdown.render(report.build(store, run_id))
    target = target.expanduser()
    if target.is_dir():
        target = target / f"trust-tui-run-{run_id}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target.resolve()


class ExportScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Export run {self.run_id} as Markdown to:", classes="dialog-title")
            yield Input(value=str(default_export_path(self.run_id)), id="export-path")
            yield Static(id="export-error")
            yield Label("enter to write · escape to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from trust_tui.errors import TrustError

        value = event.value.strip()
        if not value:
            return
        try:
            written = export_markdown(self.app.store, self.run_id, Path(value))
        except (OSError, TrustError) as exc:
            message = f"cannot write {value}: {getattr(exc, 'strerror', None) or exc}"
            self.query_one("#export-error", Static).update(safe(message, "red"))
            return
        self.app.notify(f"Exported run {self.run_id} to {written}", title="Markdown written",
                        markup=False)
        self.dismiss(written)

    def action_cancel(self) -> None:
        self.dismiss(None)
