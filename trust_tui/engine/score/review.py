"""What a shared scorecard needs besides its numbers: "compared to what?", "is that reproducible?",
"your detector is wrong on item 17", "which file exactly?". One place gathers it for a run, so the
CLI report, both exports and the app show the same lines:

- references: TrustLLM's published figures for runs of the imported bundle, and the user's own
  earlier runs of the same thing (reference_runs);
- the latest determinism check (recheck);
- reviewed verdicts: how many, and each sub-task's value with them (overrides);
- the model file's provenance from its GGUF metadata (provenance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from trust_tui.engine.score import overrides as overrides_mod
from trust_tui.engine.run import recheck as recheck_mod
from trust_tui.engine.compare import reference_runs
from trust_tui.engine.score import scorecard as sc
from trust_tui.engine.run.store import Store


@dataclass
class Review:
    references: dict[str, list[str]] = field(default_factory=dict)  # sub-task id -> lines
    reference_note: str = ""  # the caveat of the published figures, when shown
    recheck: list[str] = field(default_factory=list)
    overridden: int = 0
    reviewed_values: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # id -> (without, with)
    overrides: list[dict] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"references": self.references, "reference_note": self.reference_note or None,
                "recheck": self.recheck, "overridden": self.overridden,
                "reviewed_values": {k: list(v) for k, v in self.reviewed_values.items()},
                "overrides": [dict(o, was=list(o["was"]), now=list(o["now"])) for o in self.overrides],
                "provenance": self.provenance}


def _provenance(run: Mapping[str, Any]) -> list[str]:
    path = run.get("model_path")
    if not path or not Path(path).is_file():
        return []
    from trust_tui.engine.models import gguf, provenance
    from trust_tui.errors import TrustError

    try:
        return provenance.of_info(gguf.read_info(path)).lines()
    except (TrustError, OSError):
        return []


def gather(store: Store, card: sc.Scorecard) -> Review:
    run = card.run
    review = Review()
    from trust_tui.engine.trustllm import reference as trustllm_reference

    published = trustllm_reference.references_for(run, card.subtasks)
    if published:
        review.reference_note = trustllm_reference.leaderboard().caveat
    bag = reference_runs.bag(store, run)
    for sub in card.subtasks:
        lines = [published[sub.id]] if sub.id in published else []
        mine = bag.describe(sub.id, sub.value)
        if mine:
            lines.append(mine)
        if lines:
            review.references[sub.id] = lines
    saved = recheck_mod.latest(store, run["id"])
    if saved:
        review.recheck = recheck_mod.lines_of(saved)
    rows = list(store.item_rows(run["id"]))
    reviewed_rows, count = overrides_mod.apply(store, run, rows)
    review.overridden = count
    if count:
        reviewed = sc.from_rows(run, reviewed_rows)
        for sub in card.subtasks:
            other = reviewed.subtask(sub.id)
            if other.value != sub.value:
                review.reviewed_values[sub.id] = (sub.value, other.value)
        review.overrides = overrides_mod.for_run(store, run["id"])
    review.provenance = _provenance(run)
    return review


def lines(review: Review, card: sc.Scorecard) -> list[str]:
    """Plain lines for a terminal report (the caller makes them inert)."""
    titles = {s.id: s.title for s in card.subtasks}
    aggregates = {s.id: s.aggregate for s in card.subtasks}  # a mean is not a rate: each in its metric's format
    out = []
    for sub_id, refs in review.references.items():
        out += [f"{titles.get(sub_id, sub_id)}: {ref}" for ref in refs]
    if review.reference_note:
        out.append(f"(published figures: {review.reference_note})")
    out += review.recheck
    if review.overridden:
        changed = ", ".join(f"{titles.get(k, k)} {sc.fmt(a, aggregates.get(k, 'proportion'))} → {sc.fmt(b, aggregates.get(k, 'proportion'))}" for k, (a, b) in review.reviewed_values.items())
        out.append(f"{review.overridden} verdict{'s' if review.overridden != 1 else ''} reviewed by hand"
                   + (f": with them {changed}" if changed else "") + " (the table shows the scorers' verdicts)")
    return out
