"""The CLI's live progress: a rich progress bar fed by the run loop's events."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trust_tui.engine.run.loop import ItemFinished, ItemToken, RunFinished, RunPlanned
from trust_tui.engine.run.progress import Progress as WorkProgress, format_duration


class RichProgress:
    """The bar, its token rate and the ETA of engine/run/progress.Progress (the app's ETA)."""

    def __init__(self, console: Console, enabled: bool = True):
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(), console=console, transient=True, disable=not self.enabled,
        )
        self.task = None
        self.tokens = 0
        self.work = WorkProgress()

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("starting", total=None, rate="", eta="?")
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def stage(self, text: str) -> None:
        self.progress.update(self.task, description=text)

    def on_event(self, event) -> None:
        if isinstance(event, RunPlanned):
            self.work.plan(event.total, event.to_generate)
            self.work.start()
            self.progress.update(self.task, total=event.total, completed=0,
                                 description=f"run {event.run_id}" + (" (resumed)" if event.resumed else ""))
        elif isinstance(event, ItemToken):
            self.tokens += 1
        elif isinstance(event, ItemFinished):
            self.work.finished_one(produced=not event.cached and event.status == "done")
            self._tick()
        elif isinstance(event, RunFinished):
            self.work.end()
            self.progress.update(self.task, description="done")

    def _tick(self) -> None:
        elapsed = self.work.elapsed()
        rate = f"{self.tokens / elapsed:.0f} tok/s" if elapsed > 0 and self.tokens else ""
        eta = self.work.eta()
        self.progress.update(self.task, advance=1, rate=rate,
                             eta="?" if eta is None else format_duration(eta))
