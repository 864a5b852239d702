"""A reference bag for any bundle: the user's own earlier runs that measured the same thing.

"Compared to what?" For a trust-core scorecard the answer is the user's other models and quants:
every finished run in the store with the same comparability hash (same bundle version and
contents, profile, sub-tasks, scorers and settings, run.comparability_hash) and a different model,
the latest run per model. Each sub-task's value is placed among theirs on the metric's own
direction. Every number comes from the stored runs' scorecards, so it can be traced to items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from trust_tui.engine.score import scorecard as scorecard_mod
from trust_tui.engine.run.store import Store

# Scorecards built for a bag at most (the latest runs first): enough for "your other quants".
MAX_PEERS = 20


@dataclass(frozen=True)
class Peer:
    run_id: int
    model: str  # the model's name as the run recorded it
    value: float


@dataclass(frozen=True)
class Placement:
    rank: int  # 1 = best among the peers and this run
    of: int
    best: Peer | None  # the best peer (None when this run is best)


@dataclass
class Bag:
    run_id: int
    peers: list[tuple[int, str]] = field(default_factory=list)  # (run id, model) of every peer run
    values: dict[str, list[Peer]] = field(default_factory=dict)  # sub-task id -> peer values
    directions: dict[str, str] = field(default_factory=dict)

    def place(self, subtask: str, value: float | None) -> Placement | None:
        peers = self.values.get(subtask) or []
        if value is None or not peers:
            return None
        sign = -1.0 if self.directions.get(subtask) == "lower" else 1.0
        ahead = [p for p in peers if sign * p.value > sign * value]
        best = max(peers, key=lambda p: sign * p.value)
        return Placement(rank=len(ahead) + 1, of=len(peers) + 1, best=best if ahead else None)

    def describe(self, subtask: str, value: float | None) -> str | None:
        """"your runs: 2nd of 4 (best: run 12, Llama-3.2-3B 0.950)"."""
        placed = self.place(subtask, value)
        if placed is None:
            return None
        best = f"best: run {placed.best.run_id}, {placed.best.model} {placed.best.value:.3f}" if placed.best else "best"
        return f"your runs: {placed.rank} of {placed.of} ({best})"


def bag(store: Store, run: Mapping[str, Any], limit: int = MAX_PEERS) -> Bag:
    """The peers of ``run``: finished runs of other models with the same comparability hash."""
    result = Bag(run_id=int(run["id"]))
    if not run.get("comparability_hash"):
        return result
    rows = store.peer_runs(run["comparability_hash"], run["id"], run.get("model_id"))
    latest: dict[str, tuple[int, str]] = {}
    for row in rows:
        latest.setdefault(row["model_id"] or f"run-{row['id']}", (row["id"], row["model_name"] or "?"))
    for run_id, model in list(latest.values())[:limit]:
        card = scorecard_mod.build(store, run_id)
        result.peers.append((run_id, model))
        for sub in card.subtasks:
            result.directions.setdefault(sub.id, sub.direction)
            if sub.value is not None:
                result.values.setdefault(sub.id, []).append(Peer(run_id, model, sub.value))
    return result
