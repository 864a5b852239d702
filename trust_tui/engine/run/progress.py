"""How much of a piece of engine work is left, in seconds: one ETA for every reader.

Work that generates (a run, a determinism check, a judge pass) has a count of units to produce
and a clock. Units that need no generation (answers from the cache) cost almost nothing, so the
ETA counts only what is left to generate. The rate measured in this work is trusted more as
units finish; before the first one finishes, a rate measured on past runs (``budget``'s figures)
stands in, so a fresh run shows an ETA from its first second instead of a dash.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

# How many units of the prior rate the measured rate has to outweigh. With 3, the prior still
# counts for half after three units, and for a tenth after twenty-seven: a noisy first answer
# (a long prompt, a warm-up) cannot swing the ETA, a long run follows its own rate.
PRIOR_WEIGHT = 3.0


def eta_seconds(remaining: int, elapsed: float, done: int,
                prior_unit_seconds: float | None = None,
                prior_weight: float = PRIOR_WEIGHT) -> float | None:
    """Seconds to produce ``remaining`` more units, when ``done`` units took ``elapsed`` seconds.

    The time per unit is ``(elapsed + prior * w) / (done + w)``: the measured rate blended with the
    prior one, the prior counting as ``w`` units. None when there is neither a measured unit nor a
    prior, or the inputs make no sense (negative counts, a clock that ran backwards)."""
    if remaining < 0 or done < 0 or elapsed < 0 or math.isnan(elapsed):
        return None
    if remaining == 0:
        return 0.0
    prior = prior_unit_seconds if prior_unit_seconds and prior_unit_seconds > 0 else None
    if prior is None:
        if done == 0:
            return None
        return remaining * elapsed / done
    weight = max(0.0, prior_weight)
    return remaining * (elapsed + prior * weight) / (done + weight)


def format_duration(seconds: float | None) -> str:
    """"42s", "3m05s", "1h02m"; "–" for no figure. The CLI's and the app's ETAs print through here."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def prior_unit_seconds(store, model_id: str | None, workload: list) -> float | None:
    """Seconds per generated answer for ``workload`` on this model, from the rates of past runs
    (``budget.estimate``); None when nothing was measured yet."""
    from trust_tui.engine.run.budget import estimate

    if not workload:
        return None
    guess = estimate(store, model_id, workload)
    if guess.seconds is None or not guess.items:
        return None
    return guess.seconds / guess.items


@dataclass
class Progress:
    """Units of one piece of work: how many there are, how many were produced, and when.

    ``start`` is called when producing begins (after loading a model, say), so load time is not
    mistaken for the rate. Units that were free (cached) are counted apart: they shrink what is
    left without teaching anything about the rate."""

    total: int = 0
    to_produce: int | None = None  # units that cost time; None: all of ``total``
    prior_unit_seconds: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    produced: int = 0
    free: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    planned: bool = False  # total is known: before that there is no ETA, not an ETA of zero

    def plan(self, total: int, to_produce: int | None = None) -> None:
        self.total, self.to_produce, self.planned = total, to_produce, True
        self.produced = self.free = 0
        self.ended_at = None

    def start(self) -> None:
        if self.started_at is None:
            self.started_at = self.clock()

    def finished_one(self, produced: bool = True) -> None:
        self.start()
        if produced:
            self.produced += 1
        else:
            self.free += 1

    def end(self) -> None:
        self.ended_at = self.clock()

    @property
    def done(self) -> int:
        return self.produced + self.free

    @property
    def remaining(self) -> int:
        """Units still to produce (free ones excluded)."""
        target = self.to_produce if self.to_produce is not None else self.total - self.free
        return max(0, target - self.produced)

    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at or self.clock()) - self.started_at

    def eta(self) -> float | None:
        if self.ended_at is not None:
            return 0.0 if self.planned and self.remaining == 0 else None
        if not self.planned:
            return None
        if self.started_at is None and not self.prior_unit_seconds:
            return None
        return eta_seconds(self.remaining, self.elapsed(), self.produced, self.prior_unit_seconds)
