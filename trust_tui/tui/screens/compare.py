"""Compare runs or models item by item: pick two or more, see each sub-task's difference from the
reference with its paired test, and open a flipped item with both answers side by side.

The screen reaches the engine through the app's ``service`` (tui/service.py): its config
(store path, bundle, profile), its backend (the scripted fake in tests), and, when models are to
be run or read token by token, its one engine job ("compare"), so a comparison never runs beside
a run. A comparison of stored runs alone touches no model and runs in a worker of the screen.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, DataTable, Footer, Header, SelectionList, Static

from trust_tui.tui.text import safe

BETTER_STYLE = {True: "green", False: "red", None: ""}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def ref_kind(ref: str) -> str:
    """"run" or "model": what a picker value (``run:12``, ``model:/path.gguf``) names."""
    return ref.partition(":")[0]


def ref_value(ref: str) -> int | str:
    """The run id or the model path a picker value names (``model:`` alone: the default model)."""
    kind, _, value = ref.partition(":")
    return int(value) if kind == "run" else (value or "default")


class CompareProgress(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CompareProgress)


class CompareLoaded(Message):
    def __init__(self, key: str, payload: Any = None, error: str = "") -> None:
        super().__init__()
        self.key = key
        self.payload = payload
        self.error = error


def fmt_value(value: float | None, aggregate: str) -> str:
    from trust_tui.engine.score import metrics

    return metrics.fmt(value, aggregate)


def fmt_delta(value: float | None, aggregate: str) -> str:
    """A difference as its metric writes it (the CLI and both exports write it the same way)."""
    from trust_tui.engine.score import metrics

    return metrics.fmt_delta(value, aggregate)


def fmt_p(test) -> str:
    if test.p is None:
        return "–"
    p = "<.001" if test.p < 0.001 else f"{test.p:.3f}"
    if test.p_holm is None:
        return p + ("†" if test.too_small else "")
    holm = "<.001" if test.p_holm < 0.001 else f"{test.p_holm:.3f}"
    return f"{p} ({holm})" + ("†" if test.too_small else "")


class FlipScreen(ModalScreen[None]):
    """One flipped unit: the prompt, then the reference's and the variant's answers side by side."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False)]
    DEFAULT_CSS = """
    FlipScreen { align: center middle; }
    #flip-box { width: 96%; height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    #flip-head { height: auto; }
    #flip-sides { height: 1fr; }
    .flip-side { width: 1fr; border: round $primary 40%; padding: 0 1; }
    """

    def __init__(self, flip, labels: Sequence[str]) -> None:
        super().__init__(id="flip-screen")
        self.flip = flip
        self.labels = list(labels)

    def compose(self) -> ComposeResult:
        flip = self.flip
        head = Text()
        head.append(flip.direction, style="bold red" if flip.worse else "bold green")
        head.append("  ")
        head.append_text(safe(flip.subtask_title, "bold", single_line=True))
        head.append("  ")
        head.append_text(safe(flip.unit, "dim", single_line=True))
        head.append("   esc closes", style="dim")
        with Vertical(id="flip-box"):
            yield Static(head, id="flip-head")
            with Horizontal(id="flip-sides"):
                for side in (0, 1):
                    label = self.labels[0] if side == 0 else self.labels[flip.variant]
                    with VerticalScroll(classes="flip-side", id=f"flip-side-{side}"):
                        yield Static(self._side(side, label))

    def _side(self, side: int, label: str) -> Text:
        text = Text()
        text.append_text(safe(label + (" (reference)" if side == 0 else ""), "bold underline"))
        text.append("\n")
        for member in self.flip.members:
            text.append("\n")
            title = member.uid.split(":", 1)[-1] + (f" ({member.variant})" if member.variant else "")
            text.append_text(safe(title, "bold"))
            score = member.scores[side]
            text.append(f"  score {'–' if score is None else f'{score:g}'}  label ")
            text.append_text(safe(member.labels[side] or "unparseable"))
            if member.gold is not None:
                text.append("  gold ")
                text.append_text(safe(member.gold))
            text.append("\nPrompt\n", style="dim")
            text.append_text(safe(member.prompt))
            text.append("\nAnswer\n", style="dim")
            text.append_text(safe(member.answers[side] if member.answers[side] is not None else "(no answer)"))
            text.append("\n")
        return text

    def action_close(self) -> None:
        self.dismiss(None)


class CompareScreen(Screen):
    BINDINGS = [
        Binding("c", "compare", "Compare"),
        Binding("a", "all_flips", "All flips"),
        Binding("o", "open_flip", "Open flip"),
        Binding("p", "toggle_picker", "Picker"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    #compare-body { height: 1fr; }
    #compare-side { width: 34; padding: 0 1; }
    #compare-picker { height: 1fr; }
    #compare-agreement-toggle { height: auto; }
    #compare-hint, #compare-status { height: auto; color: $text-muted; }
    #compare-main { width: 1fr; }
    #compare-title { height: auto; max-height: 3; padding: 0 1; }
    #compare-table { height: 1fr; }
    #compare-summary { height: auto; max-height: 8; padding: 0 1; }
    #compare-flips { height: 1fr; }
    """

    def __init__(self, run_ids: Sequence[int] = (), compare_id: int | None = None,
                 models: Sequence[str | Path] = ()) -> None:
        super().__init__(id="compare-screen")
        self.preselect = [f"run:{i}" for i in run_ids] + [f"model:{Path(m)}" for m in models]
        self.compare_id = compare_id
        self.comparison = None
        self.flip_filter: str | None = None  # a sub-task or dimension id
        self.shown_flips: dict[str, Any] = {}
        self.busy = False
        self.cancel_event = threading.Event()  # stops a comparison of stored runs
        self._engine_job = False  # this screen started the service's "compare" job

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="compare-body"):
            with Vertical(id="compare-side"):
                yield Static(Text("Runs and models to compare", style="bold"))
                yield SelectionList(id="compare-picker")
                yield Checkbox("measure agreement and speed (runs the models)", value=self._real_models(),
                               id="compare-agreement-toggle")
                yield Static(Text("space selects · c compares · the largest file is the "
                                  "reference (A) · enter on a row filters the flips", style="dim"),
                             id="compare-hint")
                yield Static(id="compare-status")
            with Vertical(id="compare-main"):
                yield Static(Text("Pick two or more runs or models, then press c.", style="dim"),
                             id="compare-title")
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="compare-summary")
                yield DataTable(id="compare-flips", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "compare"
        self.load_choices()
        if self.compare_id is not None:
            self.load_stored(self.compare_id)

    def on_unmount(self) -> None:
        self._stop()  # a comparison in flight stops at its next item; finished work is kept

    def _stop(self) -> None:
        self.cancel_event.set()
        service = self.app.service
        if self._engine_job and service.job == "compare":
            service.cancel()

    # ------------------------------------------------------------------ the app's services

    def _config(self):
        return self.app.service.config

    def _store_path(self):
        return getattr(self._config(), "store_path", None)

    def _real_models(self) -> bool:
        return not self.app.service.scripted

    def _backend_factory(self):
        service = self.app.service
        return service.make_backend if service.scripted else None

    def _spec(self):
        from trust_tui.engine.run.loop import RunSpec

        config = self._config()
        return RunSpec(bundle=getattr(config, "bundle", "trust-core"),
                       profile=getattr(config, "profile", "quick"))

    # ------------------------------------------------------------------ the picker

    @work(thread=True, exclusive=True, group="compare-choices", exit_on_error=False)
    def load_choices(self) -> None:
        from trust_tui.engine.run.store import Store

        store = Store(self._store_path())
        try:
            runs = [r for r in store.runs(limit=200) if r["status"] == "finished"]
            models = store.models(limit=100)
        finally:
            store.close()
        self.post_message(CompareLoaded("choices", (runs, models)))

    def _fill_choices(self, runs: list[dict], models: list[dict]) -> None:
        import datetime as dt

        picker = self.query_one(SelectionList)
        picker.clear_options()
        choices = []
        for run in runs:
            when = dt.datetime.fromtimestamp(run["started"]).strftime("%m-%d %H:%M") if run["started"] else ""
            label = Text()
            label.append(f"#{run['id']} ", style="bold")
            label.append_text(safe(run["model_name"] or run["model_id"][:12], single_line=True))
            label.append(f" · {run['profile']} · {when}", style="dim")
            choices.append((label, f"run:{run['id']}"))
        for model in models:
            path = model.get("path") or ""
            if not path or not Path(path).exists():
                continue
            label = Text()
            label.append("model ", style="cyan")
            label.append_text(safe(model["file_name"], single_line=True))
            label.append(f" · {model.get('file_type') or '?'}", style="dim")
            choices.append((label, f"model:{path}"))
        known = {value for _, value in choices}
        for value in self.preselect:  # a model given by path that the store has not seen yet
            if value not in known and ref_kind(value) == "model":
                choices.append((safe("model " + Path(str(ref_value(value))).name, single_line=True), value))
        for label, value in choices:
            picker.add_option((label, value, value in self.preselect))
        if picker.option_count:
            picker.highlighted = 0
        if self.preselect and self.compare_id is None and len(picker.selected) >= 2:
            self.action_compare()

    # ------------------------------------------------------------------ comparing

    def action_compare(self) -> None:
        if self.busy:
            self.notify("A comparison is already running.", severity="warning")
            return
        refs = list(self.query_one(SelectionList).selected)
        if len(refs) < 2:
            self.notify("Select at least two runs or models (space), then press c.", severity="warning")
            return
        with_agreement = self.query_one(Checkbox).value
        needs_engine = with_agreement or any(ref_kind(r) == "model" for r in refs)
        if needs_engine:
            # Models to run or to read token by token: engine work, through the app's service.
            started = self.app.service.start(
                "compare", lambda store, cancel: self._compare(store, cancel, refs, with_agreement))
            if not started:
                self.notify("A run is still going; compare when it has stopped.", severity="warning")
                return
            self._engine_job = True
        else:
            self.run_compare(refs)
        self.busy = True
        self._status("comparing …")

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def run_compare(self, refs: list[str]) -> None:
        """Stored runs only: no model is touched, so it may go while the engine is busy."""
        with self.app.service.store() as store:
            self._compare(store, self.cancel_event, refs, False)

    def _compare(self, store, cancel: threading.Event, refs: list[str], with_agreement: bool) -> None:
        """The comparison (engine/compare/comparison.py), in a thread; CompareLoaded at the end."""
        from trust_tui.engine.compare import agreement, comparison as compare
        from trust_tui.engine.run.loop import ItemFinished, RunPlanned
        from trust_tui.errors import TrustError

        counts = {"done": 0, "total": 0}

        def listener(event) -> None:
            if isinstance(event, RunPlanned):
                counts.update(done=0, total=event.total)
            elif isinstance(event, ItemFinished):
                counts["done"] += 1
                self.post_message(CompareProgress(f"running: {counts['done']}/{counts['total']} items"))

        try:
            result = compare.compare(
                store, [ref_value(r) for r in refs], self._spec(), reference="largest",
                agreement_items=agreement.DEFAULT_ITEMS if with_agreement else 0, speed=with_agreement,
                listener=listener, on_stage=lambda text: self.post_message(CompareProgress(text)),
                agreement_progress=lambda done, total: self.post_message(
                    CompareProgress(f"next-token agreement: {done}/{total} items")),
                cancel=cancel, backend_factory=self._backend_factory(),
                isolate=self._backend_factory() is None)
            self.post_message(CompareLoaded("comparison", result))
        except TrustError as exc:
            self.post_message(CompareLoaded("comparison", None, str(exc)))
        except MemoryError:
            from trust_tui.tui.service import OUT_OF_MEMORY

            self.post_message(CompareLoaded("comparison", None, OUT_OF_MEMORY))
        except Exception as exc:  # noqa: BLE001 - a bug in the engine must not leave the screen busy
            self.post_message(CompareLoaded("comparison", None, f"{type(exc).__name__}: {exc}"))

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load_stored(self, compare_id: int) -> None:
        from trust_tui.engine.compare import comparison as compare
        from trust_tui.engine.run.store import Store
        from trust_tui.errors import TrustError

        store = Store(self._store_path())
        try:
            self.post_message(CompareLoaded("comparison", compare.load(store, compare_id)))
        except TrustError as exc:
            self.post_message(CompareLoaded("comparison", None, str(exc)))
        finally:
            store.close()

    def on_compare_progress(self, message: CompareProgress) -> None:
        self._status(message.text)

    def on_compare_loaded(self, message: CompareLoaded) -> None:
        if message.key == "choices":
            self._fill_choices(*message.payload)
            return
        self.busy = False
        if message.error:
            self._status("")
            self.notify(message.error, severity="error", timeout=8)
            return
        self.comparison = message.payload
        self.flip_filter = None
        self._status(f"comparison {self.comparison.id} saved · trust-tui export --compare "
                     f"{self.comparison.id}")
        self._show()
        self.query_one("#compare-side").display = False  # the table gets the whole width
        self.query_one("#compare-table", DataTable).focus()

    def _status(self, text: str) -> None:
        self.query_one("#compare-status", Static).update(Text(text, style="dim"))

    # ------------------------------------------------------------------ showing

    def _show(self) -> None:
        result = self.comparison
        labels = [v.label for v in result.variants]
        title = Text()
        title.append(f"Comparison {result.id}", style="bold")
        title.append(f" · reference A: {result.reference_rule} · p-values: paired test, "
                     "Holm-adjusted in brackets", style="dim")
        if result.forced:
            title.append("\nforced: the runs are not comparable; ", style="bold yellow")
            title.append_text(safe("; ".join(result.problems), "yellow", single_line=True))
        self.query_one("#compare-title", Static).update(title)
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        table.add_column("Dimension / sub-task", key="name")
        table.add_column(Text("A (ref)", justify="right"), key="v0")
        for index in range(1, len(labels)):
            letter = LETTERS[index]
            table.add_column(Text(letter, justify="right"), key=f"v{index}")
            table.add_column(Text(f"Δ {letter}", justify="right"), key=f"d{index}")
            table.add_column(Text("p (Holm)", justify="right"), key=f"p{index}")
        for dim in result.dimensions:
            self._add_row(table, dim, bold=True)
            for sub in result.subtasks:
                if sub.dimension == dim.id:
                    self._add_row(table, sub)
        self._show_summary()
        self._fill_flips()

    def _add_row(self, table: DataTable, row, bold: bool = False) -> None:
        name = safe(row.title if bold else f"  {row.title}", "bold" if bold else "", single_line=True)
        cells: list[Text] = [name, Text(fmt_value(row.cells[0].value, row.aggregate), justify="right")]
        for cell, delta in zip(row.cells[1:], row.deltas[1:]):
            cells.append(Text(fmt_value(cell.value, row.aggregate), justify="right"))
            cells.append(Text(fmt_delta(delta.value, row.aggregate) + ("*" if delta.note else ""),
                              style=BETTER_STYLE[delta.better], justify="right"))
            cells.append(Text(fmt_p(delta.test), justify="right",
                              style="bold" if delta.test.p_holm is not None and delta.test.p_holm < 0.05 else ""))
        table.add_row(*cells, key=f"{row.kind}:{row.id}")

    def _show_summary(self) -> None:
        from trust_tui.engine.compare import agreement
        from trust_tui.engine.models.gguf import human_size

        result = self.comparison
        text = Text()
        for index, variant in enumerate(result.variants):
            cost = variant.cost
            text.append(f"{LETTERS[index]} ", style="bold")
            text.append_text(safe(variant.label, "bold", single_line=True))
            if not variant.label.endswith(")"):
                text.append(f" (run {variant.run['id']})", style="dim")
            parts = [human_size(cost["file_size"]) if cost.get("file_size") else "size ?"]
            if cost.get("load_seconds") is not None:
                parts.append(f"load {cost['load_seconds']:.2f} s")
            if cost.get("prompt_tok_s") and cost.get("gen_tok_s"):
                parts.append(f"prompt {cost['prompt_tok_s']:.0f} · gen {cost['gen_tok_s']:.0f} tok/s")
            elif cost.get("run_tok_s"):
                parts.append(f"run {cost['run_tok_s']:.0f} tok/s")
            if cost.get("peak_rss_mb"):
                parts.append(f"peak {cost['peak_rss_mb']:.0f} MB")
            text.append(" · " + " · ".join(parts), style="dim")
            if index:
                same = result.identical[index] or {}
                if same.get("share") is not None:
                    text.append(f" · identical answers {100 * same['share']:.1f}%")
                text.append_text(safe(" · " + agreement.describe(result.agreement[index]), single_line=True))
            text.append("\n")
        for row in result.dimensions + result.subtasks:
            for index, delta in enumerate(row.deltas[1:], start=1):
                if delta.note:
                    text.append_text(safe(f"* {row.title} ({LETTERS[index]}): {delta.note}\n", "dim"))
        for row in result.dimensions + result.subtasks:
            for index, delta in enumerate(row.deltas[1:], start=1):
                if delta.test.too_small:
                    text.append_text(safe(f"† {row.title} ({LETTERS[index]}): {delta.test.too_small}\n", "dim"))
        self.query_one("#compare-summary", Static).update(text)

    def _fill_flips(self) -> None:
        result = self.comparison
        table = self.query_one("#compare-flips", DataTable)
        table.clear(columns=True)
        table.add_column("Change", key="change")
        if len(result.variants) > 2:
            table.add_column("Variant", key="variant")
        table.add_column("Sub-task", key="subtask")
        table.add_column("Item", key="item")
        table.add_column("A answer", key="ref")
        table.add_column("Variant answer", key="var")
        self.shown_flips = {}
        for index, flip in enumerate(result.flips):
            if self.flip_filter and flip.subtask != self.flip_filter and \
                    flip.subtask.split("/")[0] != self.flip_filter:
                continue
            key = str(index)
            self.shown_flips[key] = flip
            member = flip.members[-1] if flip.members else None
            cells = [Text(flip.direction, style="red" if flip.worse else "green")]
            if len(result.variants) > 2:
                cells.append(Text(LETTERS[flip.variant]))
            cells += [safe(flip.subtask_title, single_line=True),
                      safe(flip.unit.split(":", 1)[-1], single_line=True),
                      safe((member.answers[0] if member else "") or "", single_line=True),
                      safe((member.answers[1] if member else "") or "", single_line=True)]
            table.add_row(*cells, key=key)
        worse = sum(1 for f in self.shown_flips.values() if f.worse)
        table.border_title = (f"flipped: {worse} pass→fail, {len(self.shown_flips) - worse} fail→pass"
                              + (f" in {self.flip_filter}" if self.flip_filter else ""))
        if not self.shown_flips:
            table.add_row(Text("no flipped items", style="dim"), *[Text("")] * (len(table.columns) - 1),
                          key="none")

    # ------------------------------------------------------------------ interaction

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "compare-table":
            key = event.row_key.value or ""
            self.flip_filter = key.split(":", 1)[1] if ":" in key else None
            self._fill_flips()
            flips = self.query_one("#compare-flips", DataTable)
            if self.shown_flips:
                flips.focus()
        elif event.data_table.id == "compare-flips":
            self._open(event.row_key.value)

    def action_open_flip(self) -> None:
        table = self.query_one("#compare-flips", DataTable)
        if not self.shown_flips or not table.row_count:
            self.notify("No flipped item to open.", severity="warning")
            return
        self._open(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _open(self, key: str | None) -> None:
        flip = self.shown_flips.get(key or "")
        if flip is not None:
            self.app.push_screen(FlipScreen(flip, [v.label for v in self.comparison.variants]))

    def action_toggle_picker(self) -> None:
        side = self.query_one("#compare-side")
        side.display = not side.display
        if side.display:
            self.query_one(SelectionList).focus()

    def action_all_flips(self) -> None:
        if self.comparison is not None:
            self.flip_filter = None
            self._fill_flips()

    def action_back(self) -> None:
        self._stop()
        self.dismiss()
