"""The run screen: six dimension cards filling in live, the answer streaming, tok/s and ETA.

The app's engine service runs it in a thread worker; a listener turns its events into messages
(tokens are coalesced). Cancelling keeps everything finished, and running the same spec again
resumes. Several sequences may be in flight at once (the batched engine): the most
recently started one is shown streaming, and the counts come from finished items only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from trust_tui.tui import data
from trust_tui.tui.messages import (
    AnswerStreamed, DataLoaded, RecheckProgress, RecheckStopped, RunEventArrived, RunStageChanged, RunStopped,
)
from trust_tui.tui.text import safe
from trust_tui.tui.widgets.dimension_card import DimensionCard
from trust_tui.tui.widgets.run_stats import RunStats
from trust_tui.tui.widgets.stream_view import StreamView


@dataclass
class InFlight:
    uid: str
    subtask: str
    prompt: str
    answer: str = ""


class RunScreen(Screen):
    AUTO_FOCUS = ""  # nothing focused: the keys act on the run; tab reaches the cards
    BINDINGS = [
        Binding("c", "cancel_run", "Cancel"),
        Binding("r", "rerun", "Run again"),
        Binding("d", "drill", "Details"),
        Binding("e", "export", "Export"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, model: data.ModelRow, spec, options=None, judge=None, recheck: int = 0) -> None:
        super().__init__(id="run-screen")
        self.model = model
        self.spec = spec
        self.options = options
        self.judge = judge  # a service.JudgeChoice: the judge reads what the rules leave open
        self.recheck = recheck  # items asked again after the run (the determinism check)
        self.running = True  # from the start: the screen exists to run ``spec``
        self.checking = False  # the determinism check after the run is going
        self.run_id: int | None = None
        self._reset()

    def _reset(self) -> None:
        self.in_flight: dict[str, InFlight] = {}
        self.current: str | None = None
        self.finished = 0
        self.finished_by_dim: dict[str, int] = {}  # from events, so resumed items count once
        self.cached = 0
        self.generated = 0
        self.total = 0
        self.tokens = 0
        from trust_tui.engine.run.progress import Progress

        self.started_at = time.monotonic()
        self.progress = Progress()  # the engine's ETA (engine/run/progress.py)
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.dirty = False
        self.titles: dict[str, str] = {}

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="run-title")
        with Grid(id="cards"):
            for dim in data.DIMENSION_ORDER:
                yield DimensionCard(dim, data.DIMENSION_TITLES[dim])
        yield StreamView(id="stream")
        yield RunStats(id="run-stats")
        yield Footer(compact=True)

    def _title(self) -> Text:
        spec = self.spec
        text = safe(self.model.name, "bold", single_line=True)
        scope = ", ".join(spec.subtasks or spec.dimensions) or "all dimensions"
        text.append(f" · {spec.bundle} · {spec.profile} · ")
        text.append_text(safe(scope, single_line=True))
        if self.judge is not None:
            text.append(" · judge ")
            text.append_text(safe(self.judge.describe(), single_line=True))
        if self.run_id is not None:
            text.append(f" · run {self.run_id}", style="dim")
        return text

    def on_mount(self) -> None:
        self.sub_title = "run"
        self.ticker = self.set_interval(0.5, self._tick, pause=True)
        self.start()

    def on_unmount(self) -> None:
        if self.running or self.checking:  # leaving (or quitting) stops the engine; finished items are kept
            self.app.service.cancel()

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        self._reset()
        if not self.app.service.start_run(self, self.model, self.spec, self.options,
                                          judge=self.judge, recheck=self.recheck):
            self.running = False
            self.app.notify_busy()
            return
        self.running = True
        stats = self.query_one(RunStats)
        stats.stage, stats.finished, stats.total, stats.cached = "starting", 0, 0, 0
        stats.tok_s = stats.elapsed = stats.eta = None
        stream = self.query_one(StreamView)
        stream.subtask, stream.prompt, stream.answer, stream.verdict = "", "", "", ""
        stream.streaming, stream.in_flight = False, 0
        stream.note = "starting…"
        for card in self.query(DimensionCard):
            card.value, card.ci, card.finished, card.total = None, None, 0, 0
            card.included = not self.spec.dimensions or card.dimension in self.spec.dimensions
        self.ticker.resume()
        self.refresh_bindings()

    def on_data_loaded(self, message: DataLoaded) -> None:
        if message.key == "eta-prior" and message.payload:
            self.progress.prior_unit_seconds = message.payload

    def on_run_stage_changed(self, message: RunStageChanged) -> None:
        if not self.running:
            return
        self.query_one(RunStats).stage = message.stage
        self.query_one(StreamView).note = f"{message.stage}…"
        if message.stage == "running":
            self.progress.start()  # loading is over: from here the clock measures the rate

    def on_run_event_arrived(self, message: RunEventArrived) -> None:
        from trust_tui.engine.run.loop import ItemFinished, ItemStarted, RunFinished, RunPlanned

        event = message.event
        stats = self.query_one(RunStats)
        if isinstance(event, RunPlanned):
            self.run_id = event.run_id
            self.total = event.total
            self.progress.plan(event.total, event.to_generate)
            stats.total = event.total
            self.query_one("#run-title", Static).update(self._title())
            self._refresh_scorecard()
            self.refresh_bindings()
            if event.resumed:
                self.notify(f"Resuming run {event.run_id}: {event.already_done} of {event.total} "
                            "items were already done.", title="Resumed", markup=False)
        elif isinstance(event, ItemStarted):
            self.in_flight[event.uid] = InFlight(event.uid, event.subtask, event.prompt)
            self._show(event.uid)
        elif isinstance(event, ItemFinished):
            self.finished += 1
            if event.cached:
                self.cached += 1
            elif event.status == "done":
                self.generated += 1
            self.progress.finished_one(produced=not event.cached)
            stats.finished, stats.cached = self.finished, self.cached
            dim = event.subtask.split("/")[0]
            self.finished_by_dim[dim] = self.finished_by_dim.get(dim, 0) + 1
            self.query_one(f"#card-{dim}", DimensionCard).finished = self.finished_by_dim[dim]
            self.dirty = True
            self.in_flight.pop(event.uid, None)
            if event.uid == self.current:
                if self.in_flight:  # show the most recent sequence still streaming
                    self._show(next(reversed(self.in_flight)))
                else:
                    self._show_finished(event)
            self.query_one(StreamView).in_flight = len(self.in_flight)
        elif isinstance(event, RunFinished):
            self.tokens = max(self.tokens, event.tokens_generated)

    def on_answer_streamed(self, message: AnswerStreamed) -> None:
        self.tokens = message.tokens_total
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
        sequence = self.in_flight.get(message.uid)
        if sequence is None:
            return
        sequence.answer = message.text
        if message.uid == self.current:
            self.query_one(StreamView).answer = message.text

    def _label(self, subtask: str) -> str:
        dim = subtask.split("/")[0]
        return f"{data.DIMENSION_TITLES.get(dim, dim)} › {self.titles.get(subtask, subtask)}"

    def _show(self, uid: str) -> None:
        sequence = self.in_flight[uid]
        self.current = uid
        stream = self.query_one(StreamView)
        stream.subtask = self._label(sequence.subtask)
        stream.prompt = sequence.prompt
        stream.answer = sequence.answer
        stream.verdict = ""
        stream.streaming = True
        stream.in_flight = len(self.in_flight)

    def _show_finished(self, event) -> None:
        stream = self.query_one(StreamView)
        stream.streaming = False
        if event.status == "skipped":
            stream.answer = event.reason
            stream.verdict = "skipped"
            return
        stream.answer = event.answer
        score = event.score
        if score is None or score.value is None:
            stream.verdict = "unparseable"
        else:
            stream.verdict = f"score {score.value:g}" + (f" ({score.label})" if score.label else "")

    def on_run_stopped(self, message: RunStopped) -> None:
        if not self.running:
            return
        self.running = False
        self.ended_at = time.monotonic()
        self.progress.end()
        self.checking = bool(self.recheck) and message.status == "finished"
        if message.run_id is not None:
            self.run_id = message.run_id
        stats = self.query_one(RunStats)
        stream = self.query_one(StreamView)
        stream.streaming = False
        self.in_flight.clear()
        stream.in_flight = 0
        if self.current is None:
            stream.note = (f"nothing to generate: all {self.cached} answers came from the cache"
                           if message.status == "finished" and self.cached else message.status)
        if message.note:
            self.notify(message.note, title="Judged", markup=False)
        if message.status == "finished":
            stats.stage = "finished"
        elif message.status == "cancelled":
            stats.stage = "cancelled"
            self.notify(f"Kept {self.finished} finished items; press r to resume.",
                        title="Run cancelled", markup=False)
        else:
            stats.stage = "failed"
            self.notify(message.error or "the run failed", title="Run failed",
                        severity="error", timeout=15, markup=False)
        self.dirty = self.run_id is not None
        self._tick()
        self.ticker.pause()  # the numbers are final
        self.query_one("#run-title", Static).update(self._title())
        self.refresh_bindings()

    def on_recheck_progress(self, message: RecheckProgress) -> None:
        self.checking = True
        text = message.stage or f"{message.done}/{message.total} answers"
        eta = f" · ETA {data.duration(message.eta)}" if message.eta is not None else ""
        self.query_one(RunStats).stage = f"finished · determinism check: {text}{eta}"

    def on_recheck_stopped(self, message: RecheckStopped) -> None:
        self.checking = False
        stats = self.query_one(RunStats)
        stats.stage = "finished" if message.status == "finished" else f"finished · check {message.status}"
        if message.status == "finished":
            self.notify("\n".join(message.lines), title="Determinism check", markup=False, timeout=10)
        else:
            self.notify(message.error, title=f"Determinism check {message.status}", markup=False,
                        severity="warning" if message.status == "cancelled" else "error")
        self.refresh_bindings()

    # ------------------------------------------------------------------ live numbers

    def _tick(self) -> None:
        if self.dirty:
            self.dirty = False
            self._refresh_scorecard()
        now = self.ended_at or time.monotonic()
        stats = self.query_one(RunStats)
        stats.elapsed = now - self.started_at
        if self.first_token_at is not None and now > self.first_token_at:
            stats.tok_s = self.tokens / (now - self.first_token_at)
        stats.eta = self.progress.eta()

    def _refresh_scorecard(self) -> None:
        if self.run_id is None:
            return
        from trust_tui.engine.score import scorecard

        card = scorecard.build(self.app.store, self.run_id)
        present = {}
        for dim in card.dimensions:
            present[dim.id] = dim
            for sub in dim.subtasks:
                self.titles[sub.id] = sub.title
        for widget in self.query(DimensionCard):
            dim = present.get(widget.dimension)
            widget.included = dim is not None
            if dim is None:
                continue
            widget.total = dim.total
            widget.value, widget.ci = dim.value, dim.ci

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.running or self.checking
        if action == "rerun":
            return not (self.running or self.checking)
        if action in ("drill", "export"):
            return self.run_id is not None
        return True

    def action_cancel_run(self) -> None:
        if self.running or self.checking:
            self.app.service.cancel()
            self.query_one(RunStats).stage = "cancelling"

    def action_rerun(self) -> None:
        if self.running or self.checking:
            return
        if not self.app.service.idle:
            self.app.notify_busy()
            return
        self.start()

    def action_drill(self) -> None:
        if self.run_id is not None:
            self.app.open_screen("scorecard", run_id=self.run_id)

    def action_export(self) -> None:
        if self.run_id is not None:
            self.app.open_screen("export", run_id=self.run_id)

    def on_dimension_card_selected(self, message: DimensionCard.Selected) -> None:
        if self.run_id is not None:
            self.app.open_screen("items", run_id=self.run_id, dimension=message.dimension)

    def action_back(self) -> None:
        if self.running or self.checking:
            self.app.service.cancel()
            self.notify("Cancelled: finished items are kept; run again to resume.")
        self.dismiss()
