"""The items behind a number: prompt, full answer, score and the scorer's reason.

Filter to failures or to unparseable answers; the verdicts follow the metric (pair metrics
judge whole pairs; correlations and group tests have no per-item verdict).
"""

from __future__ import annotations


from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from trust_tui.tui import data
from trust_tui.tui.text import safe
from trust_tui.tui.widgets.item_detail import VERDICT_STYLE, ItemDetail

FILTERS = {"all": "all items", "fail": "failures", "unparseable": "unparseable answers",
           "uncertain": "verdicts the rules could not decide"}


class ItemsScreen(Screen):
    BINDINGS = [
        Binding("a", "filter('all')", "All"),
        Binding("f", "filter('fail')", "Failures"),
        Binding("u", "filter('unparseable')", "Unparseable"),
        Binding("d", "filter('uncertain')", "Undecided", show=False),
        Binding("x", "review", "Mark wrong"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, run_id: int, subtask: str | None = None, dimension: str | None = None,
                 verdict: str = "all") -> None:
        super().__init__(id="items-screen")
        self.run_id = run_id
        self.subtask = subtask
        self.dimension = dimension
        self.verdict_filter = verdict if verdict in FILTERS else "all"
        self.rows: dict[str, dict] = {}
        self.verdicts: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="items-title")
        yield DataTable(id="items-table", cursor_type="row", zebra_stripes=True)
        yield ItemDetail(id="item-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"items · run {self.run_id}"
        table = self.query_one(DataTable)
        table.add_column("Item", key="uid")
        table.add_column("Verdict", key="verdict")
        table.add_column(Text("Score", justify="right"), key="score")
        table.add_column("Answer", key="answer")
        self.load()

    def _wanted(self, subtask_id: str) -> bool:
        if self.subtask:
            return subtask_id == self.subtask
        if self.dimension:
            return subtask_id.split("/")[0] == self.dimension
        return True

    def load(self) -> None:
        from trust_tui.engine.score.verdicts import run_items

        self.rows, self.verdicts, snapshots = run_items(self.app.store, self.run_id, self._wanted)
        self.titles = {sid: s.get("title", sid) for sid, s in snapshots.items()}
        self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        shown = 0
        for uid, row in self.rows.items():
            verdict = self.verdicts.get(uid, "pending")
            if self.verdict_filter != "all" and verdict != self.verdict_filter:
                continue
            shown += 1
            value = row["score_value"]
            score = "" if not row.get("scored") else ("–" if value is None else f"{value:g}")
            answer = row.get("answer") if row["status"] != "skipped" else row.get("reason")
            shown_verdict = verdict
            if row.get("score_label") == "partial":  # a partial refusal: say so beside pass/fail
                shown_verdict = f"{verdict} · partial"
            table.add_row(
                safe(self._short_uid(uid), single_line=True),
                Text(shown_verdict, style=VERDICT_STYLE.get(verdict, "")),
                Text(score, justify="right"),
                safe(answer or "", single_line=True),
                key=uid)
        from trust_tui.engine.score.verdicts import VERDICTS

        counts = {v: sum(1 for x in self.verdicts.values() if x == v) for v in VERDICTS}
        title = Text()
        scope = (self.titles.get(self.subtask, self.subtask) if self.subtask
                 else data.DIMENSION_TITLES.get(self.dimension or "", "all sub-tasks"))
        title.append_text(safe(scope, "bold", single_line=True))
        title.append(f" · {len(self.rows)} items · ")
        title.append(f"{counts['fail']} failure{'' if counts['fail'] == 1 else 's'}", style="red" if counts["fail"] else "")
        title.append(" · ")
        title.append(f"{counts['unparseable']} unparseable",
                     style="yellow" if counts["unparseable"] else "")
        if counts["uncertain"]:
            title.append(f" · {counts['uncertain']} undecided", style="magenta")
        if counts["skipped"]:
            title.append(f" · {counts['skipped']} skipped", style="yellow")
        title.append(f" · showing {FILTERS[self.verdict_filter]} ({shown})", style="dim")
        self.query_one("#items-title", Static).update(title)
        self._show_detail()

    def _short_uid(self, uid: str) -> str:
        if self.subtask:
            return uid.split(":", 1)[-1]
        return uid.split("/", 1)[-1]

    def _show_detail(self) -> None:
        table = self.query_one(DataTable)
        detail = self.query_one(ItemDetail)
        if not table.row_count:
            detail.row = None
            return
        uid = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        detail.verdict = self.verdicts.get(uid, "")
        detail.row = self.rows.get(uid)

    def on_data_table_row_highlighted(self) -> None:
        self._show_detail()

    def on_data_table_row_selected(self) -> None:
        self.query_one(ItemDetail).focus()

    def action_filter(self, verdict: str) -> None:
        self.verdict_filter = verdict
        self._fill()

    def action_review(self) -> None:
        """Mark the highlighted verdict wrong (pass <-> fail), or take a mark back. The review is
        kept apart from the scores, for this very answer (engine/score/overrides.py)."""
        from trust_tui.engine.score import overrides
        from trust_tui.errors import TrustError

        table = self.query_one(DataTable)
        if not table.row_count:
            return
        uid = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        row = self.rows.get(uid) or {}
        try:
            if row.get("overridden"):
                overrides.remove(self.app.store, self.run_id, uid)
                self.notify("review taken back: the scorer's verdict stands")
            elif row.get("score_value") in (0.0, 1.0):
                value = 1.0 - row["score_value"]
                overrides.set_override(self.app.store, self.run_id, uid, value, "reviewed",
                                       note="marked wrong in the app")
                self.notify(f"verdict marked wrong: now {'pass' if value else 'fail'} for this answer")
            else:
                self.notify("only a pass or a fail can be marked wrong here (trust-tui overrides set)",
                            severity="warning")
                return
        except TrustError as exc:
            self.notify(str(exc), severity="error")
            return
        self.load()

    def action_back(self) -> None:
        self.dismiss()
