"""How long a run will take, and budget mode: the largest stratified subset that fits a time.

The estimate comes from measured rates: tokens_generated / generation seconds of past runs (of this
model when it has any, else of any model), and the tokens an answer takes (capped by each item's
max_tokens). Answers already in the cache make a real run shorter, so the estimate is an upper bound.
Budget mode picks N items per sub-task, chosen the way the quick profile chooses them (label-balanced,
pairs whole, seeded by the bundle), the largest N whose estimate fits; the run records N, so the same
budget reproduces the same items, and says how many items of the profile were left out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from trust_tui.errors import TrustError


@dataclass(frozen=True)
class Estimate:
    seconds: float | None
    items: int
    basis: str


def estimate(store, model_id: str | None, workload: list) -> Estimate:
    """Time for ``workload`` ((sub-task, item) pairs) from the throughput of past runs."""
    n_items = len(workload)
    runs = [r for r in (store.runs(model_id) if model_id else []) if r["tokens_generated"]]
    scope = "this model"
    if not runs:
        runs = [r for r in store.runs() if r["tokens_generated"]]
        scope = "other models"
    if not runs:
        return Estimate(None, n_items, "no past runs to estimate from yet")
    tokens = sum(r["tokens_generated"] for r in runs)
    seconds = sum(min(r["gen_seconds"] or 0.0, r["wall_seconds"] or math.inf) for r in runs)
    generated = sum(r["generated"] for r in runs) or 1
    if seconds <= 0 or tokens <= 0:
        return Estimate(None, n_items, "no past throughput to estimate from yet")
    rate = tokens / seconds
    per_item = tokens / generated
    max_tokens = [sub.generation.max_tokens for sub, _ in workload]
    if max_tokens:  # past items may have been shorter or longer than these
        per_item = min(per_item, sum(max_tokens) / len(max_tokens))
    total = n_items * per_item / rate
    return Estimate(total, n_items, f"{rate:.0f} tok/s over {len(runs)} past run"
                    f"{'s' if len(runs) != 1 else ''} of {scope}")


def parse_duration(text: str) -> float:
    """"90s", "10m", "1h30m", "45" (seconds) -> seconds."""
    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", cleaned)
    if not cleaned or not parts or not any(parts.groups()):
        raise TrustError(f"--budget {text!r}: write a duration such as 90s, 10m or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class BudgetPlan:
    per_subtask: int
    items: int  # items the budget keeps
    profile_items: int  # items of the profile without a budget
    seconds: float  # the estimate for the kept items
    basis: str

    @property
    def left_out(self) -> int:
        return self.profile_items - self.items

    def describe(self, budget_s: float) -> str:
        return (f"budget {budget_s:.0f} s: {self.per_subtask} items per sub-task, {self.items} of "
                f"{self.profile_items} items of the profile (estimate {self.seconds:.0f} s, {self.basis}); "
                f"{self.left_out} left out")


def plan(store, model_id: str | None, bundle, profile: str, dimensions, subtasks, budget_s: float) -> BudgetPlan:
    """The largest N items per sub-task whose estimate fits ``budget_s``."""
    full = bundle.select(profile, dimensions, subtasks)
    probe = estimate(store, model_id, full)
    if probe.seconds is None:
        raise TrustError(f"--budget needs a measured rate ({probe.basis}): run the quick profile once first")
    if probe.seconds <= budget_s:
        return BudgetPlan(0, len(full), len(full), probe.seconds, probe.basis)
    sizes = sorted({len(s.items_for(profile, bundle.name)) for s, _ in full} | {1})
    largest = max(sizes)
    best = None
    low, high = 1, largest
    while low <= high:  # the estimate grows with N: binary search for the largest that fits
        mid = (low + high) // 2
        workload = bundle.select(profile, dimensions, subtasks, per_subtask=mid)
        guess = estimate(store, model_id, workload)
        if guess.seconds is not None and guess.seconds <= budget_s:
            best = BudgetPlan(mid, len(workload), len(full), guess.seconds, guess.basis)
            low = mid + 1
        else:
            high = mid - 1
    if best is None:
        one = estimate(store, model_id, bundle.select(profile, dimensions, subtasks, per_subtask=1))
        raise TrustError(f"--budget {budget_s:.0f} s is too short: even one item per sub-task takes about "
                         f"{one.seconds:.0f} s ({one.basis})")
    return best
