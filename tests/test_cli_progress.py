"""The CLI's progress bar reads its ETA from engine/run/progress.Progress, as the app does."""

from __future__ import annotations

import io

from rich.console import Console

from trust_tui.engine.run.loop import ItemFinished, RunPlanned
from trust_tui.engine.run.progress import Progress, format_duration
from trust_tui.progress import RichProgress


def test_the_cli_eta_is_the_engine_eta():
    clock = [100.0]
    bar = RichProgress(Console(file=io.StringIO(), force_terminal=True))
    bar.work.clock = lambda: clock[0]
    mirror = Progress(clock=lambda: clock[0])
    with bar:
        bar.on_event(RunPlanned(run_id=1, total=10, already_done=0, cached=2, to_generate=8,
                                skipped=0, resumed=False))
        mirror.plan(10, 8)
        mirror.start()
        for cached in (True, True, False, False):
            clock[0] += 0 if cached else 30.0
            bar.on_event(ItemFinished(uid="u", subtask="s", status="done", cached=cached,
                                      score=None, answer=""))
            mirror.finished_one(produced=not cached)
        task = bar.progress.tasks[0]
        # 2 of 8 generated in 60 s: 6 more at 30 s each.
        assert bar.work.eta() == mirror.eta() == 180.0
        assert task.fields["eta"] == format_duration(180.0) == "3m00s"


def test_durations_print_the_same_everywhere():
    from trust_tui.tui import data

    for seconds in (None, -1, 0, 59.4, 61, 3725):
        assert data.duration(seconds) == format_duration(seconds)
    assert format_duration(3725) == "1h02m"
