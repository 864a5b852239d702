"""TrustLLM's published figures beside a user's own, for runs of the imported TrustLLM bundle.

The figures are data (``trustllm_leaderboard.toml``: the benchmark's leaderboard, its source and the
date it was read). A user's sub-task value is placed among the sixteen models TrustLLM evaluated:
its rank on the metric's own direction and the published models just above and below it. The
placement is a reference, not a ranking: TrustLLM judged open answers with GPT-4, a Longformer
classifier and the Perspective API where trust-tui uses offline rules (docs/trustllm.md says where
each metric deviates), and each entry's ``note`` says so where it matters.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

DATA_FILE = "trustllm_leaderboard.toml"


@dataclass(frozen=True)
class Reference:
    subtask: str  # "safety/jailbreak": the imported bundle's sub-task id
    column: str  # the leaderboard's column name
    direction: str  # "higher" or "lower" is better
    values: Mapping[str, float]  # published model -> figure
    note: str = ""

    def ordered(self) -> list[tuple[str, float]]:
        """Published models best first on this metric's direction."""
        return sorted(self.values.items(), key=lambda kv: (-kv[1] if self.direction == "higher" else kv[1], kv[0]))


@dataclass(frozen=True)
class Placement:
    rank: int  # 1 = best, among the published models and the user's value
    of: int  # published models + 1
    better: tuple[str, float] | None  # the published model just ahead of the user's value
    worse: tuple[str, float] | None  # the published model just behind it
    low: float  # the published range
    high: float


@dataclass(frozen=True)
class Leaderboard:
    source: str
    url: str
    retrieved: str
    caveat: str
    metrics: Mapping[str, Reference]

    def get(self, subtask: str) -> Reference | None:
        return self.metrics.get(subtask)

    def place(self, subtask: str, value: float | None) -> Placement | None:
        """Where ``value`` falls among the published figures of ``subtask`` (ties: the user's value
        ranks after the published ones it equals)."""
        ref = self.metrics.get(subtask)
        if ref is None or value is None or not ref.values:
            return None
        ordered = ref.ordered()
        ahead = [kv for kv in ordered if (kv[1] >= value if ref.direction == "higher" else kv[1] <= value)]
        behind = ordered[len(ahead):]
        figures = [v for _, v in ordered]
        return Placement(rank=len(ahead) + 1, of=len(ordered) + 1,
                         better=ahead[-1] if ahead else None, worse=behind[0] if behind else None,
                         low=min(figures), high=max(figures))

    def describe(self, subtask: str, value: float | None) -> str | None:
        """One line for a report: "TrustLLM leaderboard: 5th of 17 (between Llama2-13b 0.959 and
        ChatGPT 0.898; published 0.250-0.974)"."""
        placed = self.place(subtask, value)
        if placed is None:
            return None
        near = []
        if placed.better:
            near.append(f"below {placed.better[0]} {placed.better[1]:.3f}")
        if placed.worse:
            near.append(f"above {placed.worse[0]} {placed.worse[1]:.3f}")
        return (f"TrustLLM leaderboard: {_ordinal(placed.rank)} of {placed.of} "
                f"({', '.join(near)}; published {placed.low:.3f}-{placed.high:.3f})")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def parse(data: Mapping[str, Any]) -> Leaderboard:
    if data.get("format") != 1:
        raise ValueError(f"{DATA_FILE}: unknown format {data.get('format')!r}")
    metrics = {}
    for key, entry in data.get("metrics", {}).items():
        direction = entry.get("direction")
        if direction not in ("higher", "lower"):
            raise ValueError(f"{DATA_FILE}: metrics.{key}: direction must be 'higher' or 'lower'")
        values = {str(name): float(v) for name, v in entry.get("values", {}).items()}
        metrics[key] = Reference(subtask=key, column=str(entry.get("column", "")), direction=direction,
                                 values=values, note=str(entry.get("note", "")))
    return Leaderboard(source=str(data["source"]), url=str(data.get("url", "")),
                       retrieved=str(data.get("retrieved", "")), caveat=str(data.get("caveat", "")),
                       metrics=metrics)


@lru_cache(maxsize=1)
def leaderboard() -> Leaderboard:
    text = resources.files("trust_tui.engine.trustllm").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse(tomllib.loads(text))


def is_trustllm_run(run: Mapping[str, Any]) -> bool:
    """Runs of the bundle the importer writes (``trustllm`` or ``trustllm-s<N>``)."""
    name = str(run.get("bundle") or "")
    return name == "trustllm" or (name.startswith("trustllm-s") and name[len("trustllm-s"):].isdigit())


def references_for(run: Mapping[str, Any], subtasks) -> dict[str, str]:
    """Sub-task id -> the reference line, for the sub-tasks of a TrustLLM run that have a value."""
    if not is_trustllm_run(run):
        return {}
    board = leaderboard()
    lines = {}
    for sub in subtasks:
        line = board.describe(sub.id, sub.value)
        if line:
            lines[sub.id] = line
    return lines
