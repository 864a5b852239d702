"""A run's scorecard: dimensions and their sub-tasks. Enter opens the items behind a number; k asks
a sample of the run's items again (the determinism check) and shows what changed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from trust_tui.tui import data
from trust_tui.tui.messages import RecheckProgress, RecheckStopped
from trust_tui.tui.text import safe
from trust_tui.tui.widgets.dimension_card import score_style


class ScorecardScreen(Screen):
    BINDINGS = [
        Binding("f", "failures", "Failures"),
        Binding("u", "unparseable", "Unparseable"),
        Binding("d", "undecided", "Undecided", show=False),
        Binding("e", "export", "Export"),
        Binding("k", "recheck", "Recheck"),
        Binding("c", "cancel_recheck", "Stop check"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__(id="scorecard-screen")
        self.run_id = run_id
        self.card = None
        self.subtasks: dict[str, object] = {}
        self.checking = False  # a determinism check of this run is going
        self.recheck_saved: dict | None = None  # the run's latest check (its as_dict form)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="scorecard-title")
        # Shown only when the answers look broken (engine/run/health.py): the scores then describe
        # a damaged file or a wrong template, and must not pass for a result.
        warning = Static(id="scorecard-warning")
        warning.display = False
        yield warning
        yield DataTable(id="scorecard-table", cursor_type="row")
        status = Static(id="scorecard-status")  # the determinism check while it goes
        status.display = False
        yield status
        yield Static(id="scorecard-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"scorecard · run {self.run_id}"
        table = self.query_one(DataTable)
        table.add_column("Dimension / sub-task", key="name")
        table.add_column(Text("Score", justify="right"), key="value")
        table.add_column(Text("95% CI", justify="right"), key="ci")
        table.add_column(Text("n", justify="right"), key="n")
        table.add_column(Text("Unp.", justify="right"), key="unparseable")
        table.add_column(Text("Skip", justify="right"), key="skipped")
        table.add_column("Metric", key="metric")

    def on_screen_resume(self) -> None:
        self.load()  # on the first show, and after a drill-down or an export

    def load(self) -> None:
        from trust_tui.engine.score import scorecard as sc

        self.card = sc.build(self.app.store, self.run_id)
        from trust_tui.engine.score import review as review_mod

        self.review = review_mod.gather(self.app.store, self.card)
        from trust_tui.engine.run import recheck

        self.recheck_saved = recheck.latest(self.app.store, self.run_id)
        run = self.card.run
        table = self.query_one(DataTable)
        keep = table.cursor_row if table.row_count else 0
        table.clear()
        self.subtasks = {}
        for dim in self.card.dimensions:
            finished = sum(s.done + s.skipped for s in dim.subtasks)
            table.add_row(
                Text(dim.title, style="bold"),
                Text(sc.fmt(dim.value), style=f"bold {score_style(dim.value)}", justify="right"),
                Text(sc.fmt_ci(dim.ci), justify="right"),
                Text(f"{finished}/{dim.total}", justify="right"), Text(""), Text(""),
                Text("summary ↑", style="dim"), key=f"dim:{dim.id}")
            for sub in dim.subtasks:
                self.subtasks[sub.id] = sub
                table.add_row(
                    safe(f"  {sub.title}", single_line=True),
                    Text(sc.fmt(sub.value, sub.aggregate), justify="right"),
                    Text(sc.fmt_ci(sub.ci, sub.aggregate), justify="right"),
                    Text(f"{sub.n}" + (" pairs" if sub.unit == "pairs" else ""), justify="right"),
                    Text(str(sub.unparseable or ""), style="yellow", justify="right"),
                    Text(str(sub.skipped or ""), style="yellow", justify="right"),
                    safe(f"{sub.metric} {'↑' if sub.direction == 'higher' else '↓'}",
                         single_line=True),
                    key=f"sub:{sub.id}")
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1), animate=False)
        title = safe(run["model_name"] or "", "bold", single_line=True)
        title.append(f" · {run['bundle']} {run['bundle_version']} · {run['profile']} · "
                     f"run {run['id']} ({run['status']}) · {data.when(run['started'])}")
        title.append(f" · overall {data.percent(self.card.overall)}", style="bold")
        judged, decided = judged_share(self.card)
        if judged:
            title.append(f" · judge decided {judged} of {decided} verdicts", style="magenta")
        self.query_one("#scorecard-title", Static).update(title)
        from trust_tui.engine.run.health import run_health

        health = run_health(self.app.store, run["id"])
        warning = self.query_one("#scorecard-warning", Static)
        warning.display = health.broken
        if health.broken:
            warning.update(Text.assemble(("⚠ " + health.problem, "bold white on dark_red"),
                                         (" the scores below describe the breakage, not the model",
                                          "red")))
        self._show_detail()

    def _selected(self) -> tuple[str, str] | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        kind, _, ident = key.partition(":")
        return kind, ident

    def on_data_table_row_highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#scorecard-detail", Static)
        selected = self._selected()
        if selected is None:
            detail.update("")
            return
        kind, ident = selected
        if kind == "dim":
            from trust_tui.engine.score.scorecard import SUMMARY_DEFINITION

            text = Text(f"Dimension score: {SUMMARY_DEFINITION}.", style="dim")
            review = getattr(self, "review", None)
            for line in (review.recheck if review else []):
                text.append("\n")
                text.append(line, style="cyan")
            if review and review.overridden:
                text.append("\n")
                text.append(f"{review.overridden} verdicts reviewed by hand (x on the items screen)", style="cyan")
            detail.update(text)
            return
        sub = self.subtasks[ident]
        text = Text()
        text.append_text(safe(sub.description or sub.title))
        text.append("\n")
        text.append(f"{sub.metric}: {sub.definition}", style="dim")
        from trust_tui.engine.score.verdicts import decision_note

        note = decision_note(sub)
        if note:
            text.append("\n")
            text.append(note, style="magenta")
        checked = recheck_line(self.recheck_saved, sub.id)
        if checked:
            text.append("\n")
            text.append(checked, style="cyan")
        review = getattr(self, "review", None)
        if review:
            for line in review.references.get(sub.id, []):
                text.append("\n")
                text.append_text(safe(line, "cyan", single_line=True))
            if sub.id in review.reviewed_values:
                without, with_ = review.reviewed_values[sub.id]
                text.append("\n")
                text.append(f"with the reviewed verdicts: {sc_fmt(with_, sub.aggregate)} "
                            f"(scorers: {sc_fmt(without, sub.aggregate)})", style="cyan")
        detail.update(text)

    def _open_items(self, verdict: str = "all") -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, ident = selected
        if kind == "dim":
            self.app.open_screen("items", run_id=self.run_id, dimension=ident, verdict=verdict)
        else:
            self.app.open_screen("items", run_id=self.run_id, subtask=ident, verdict=verdict)

    def on_data_table_row_selected(self) -> None:
        self._open_items()

    def action_failures(self) -> None:
        self._open_items("fail")

    def action_unparseable(self) -> None:
        self._open_items("unparseable")

    def action_undecided(self) -> None:
        self._open_items("uncertain")

    def action_export(self) -> None:
        self.app.open_screen("export", run_id=self.run_id)

    # ------------------------------------------------------------------ determinism check

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_recheck":
            return self.checking  # off the footer unless a check is going
        if action == "recheck":
            return not self.checking
        return True

    def action_recheck(self) -> None:
        from trust_tui.engine.run.recheck import DEFAULT_SAMPLE

        if not self.app.service.idle:
            self.app.notify_busy()
            return

        def chosen(value: str | None) -> None:
            if value is None:
                return
            if not value.isdigit() or int(value) < 1:
                self.notify(f"{value!r}: give a number of items, at least 1", severity="error",
                            markup=False)
                return
            self.start_recheck(int(value))

        self.app.open_screen("prompt", title="Determinism check: how many items to ask again "
                             "(batched, then alone)?", value=str(DEFAULT_SAMPLE), callback=chosen)

    def start_recheck(self, n: int) -> None:
        if not self.app.service.start_recheck(self, self.run_id, n):
            self.app.notify_busy()
            return
        self.checking = True
        self._status(f"determinism check: starting ({n} items, asked twice)")
        self.refresh_bindings()

    def action_cancel_recheck(self) -> None:
        if self.checking:
            self.app.service.cancel()
            self._status("determinism check: cancelling …")

    def _status(self, text: str) -> None:
        status = self.query_one("#scorecard-status", Static)
        status.display = bool(text)
        status.update(Text(text, style="cyan"))

    def on_recheck_progress(self, message: RecheckProgress) -> None:
        if message.run_id != self.run_id:
            return
        if message.stage:
            self._status(f"determinism check: {message.stage}")
            return
        eta = f" · ETA {data.duration(message.eta)}" if message.eta is not None else ""
        self._status(f"determinism check: {message.done}/{message.total} answers{eta} · c stops it")

    def on_recheck_stopped(self, message: RecheckStopped) -> None:
        if message.run_id != self.run_id:
            return
        self.checking = False
        self._status("")
        self.refresh_bindings()
        if message.status == "finished":
            self.notify("\n".join(message.lines), title="Determinism check saved", markup=False,
                        timeout=10)
            self.load()  # the detail shows the new figures
        else:
            self.notify(message.error, title=f"Determinism check {message.status}", markup=False,
                        severity="warning" if message.status == "cancelled" else "error")

    def action_back(self) -> None:
        if self.checking:
            self.app.service.cancel()
        self.dismiss()


def judged_share(card) -> tuple[int, int]:
    """(verdicts a judge decided, verdicts decided) over the run (judge/overlay.py's counts)."""
    judged = decided = 0
    for sub in card.subtasks:
        for who, n in (sub.extras or {}).get("decided_by", {}).items():
            decided += n
            if who.startswith("judge:"):
                judged += n
    return judged, decided


def recheck_line(saved: dict | None, subtask_id: str) -> str:
    """The latest determinism check's figures for one sub-task, one pass after the other."""
    if not saved:
        return ""
    parts = []
    for p in saved.get("passes", []):
        counts = (p.get("by_subtask") or {}).get(subtask_id)
        if not counts:
            continue
        changed = counts.get("changed", 0)
        parts.append(f"{p['mode']} {counts.get('identical', 0)}/{counts.get('asked', 0)} identical"
                     + (f", {changed} verdict{'' if changed == 1 else 's'} changed" if changed else ""))
    return "determinism check: " + " · ".join(parts) if parts else ""


def sc_fmt(value, aggregate: str) -> str:
    from trust_tui.engine.score.scorecard import fmt

    return fmt(value, aggregate)
