"""The CLI's live progress: a rich progress bar fed by the run loop's events."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trust_tui.engine.run.loop import ItemFinished, ItemToken, RunFinished, RunPlanned


class RichProgress:
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
        self.started = None
        self.generated_items = 0
        self.to_generate = 0

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
            self.to_generate = event.to_generate
            self.progress.update(self.task, total=event.total, completed=0,
                                 description=f"run {event.run_id}" + (" (resumed)" if event.resumed else ""))
            self.started = time.perf_counter()
        elif isinstance(event, ItemToken):
            self.tokens += 1
        elif isinstance(event, ItemFinished):
            if not event.cached and event.status == "done":
                self.generated_items += 1
            self._tick()
        elif isinstance(event, RunFinished):
            self.progress.update(self.task, description="done")

    def _tick(self) -> None:
        elapsed = time.perf_counter() - (self.started or time.perf_counter())
        rate = f"{self.tokens / elapsed:.0f} tok/s" if elapsed > 0 and self.tokens else ""
        eta = "?"
        if self.generated_items and elapsed > 0:
            left = self.to_generate - self.generated_items
            eta = f"{left * elapsed / self.generated_items:.0f}s"
        self.progress.update(self.task, advance=1, rate=rate, eta=eta)
