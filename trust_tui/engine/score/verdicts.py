"""Per-item verdicts for the drill-down (the app's items screen): pass / fail / unparseable /
uncertain (the rules could not decide; a judge may) / skipped / pending, or "scored" where the metric has no per-item verdict (correlations, group
tests). Pair metrics judge whole pairs.

One rule says what passing is: the unit's value, oriented so that higher is better, is at least
0.5 (``Metric.passes``). The paired comparison (compare/stats.py) counts pass→fail flips with the
same rule.

Kept free of heavy imports at module level, so the app can import it at start-up.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

VERDICTS = ("pass", "fail", "unparseable", "uncertain", "skipped", "pending", "scored")


def item_verdicts(rows: list[dict], snapshot: Mapping[str, Any]) -> dict[str, str]:
    """uid -> verdict for one sub-task's rows (``snapshot``: its runs.subtasks entry). The states
    (skipped, pending, unreadable) are the same for every metric; a readable answer's pass or
    fail is its metric's (``Metric.verdicts``), "scored" where the metric has none."""
    from trust_tui.engine.score import metrics

    metric = metrics.for_display(snapshot.get("aggregate", metrics.DEFAULT))
    out: dict[str, str] = {}
    readable: list[dict] = []
    for row in rows:
        if row["status"] == "skipped":
            out[row["uid"]] = "skipped"
        elif row["status"] != "done" or not row.get("scored"):
            out[row["uid"]] = "pending"
        elif row["score_value"] is None:
            out[row["uid"]] = "uncertain" if row.get("score_label") == "uncertain" else "unparseable"
        else:
            readable.append(row)
    if metric.verdicts is None:
        out.update((row["uid"], "scored") for row in readable)
    else:
        out.update(metric.verdicts(metric, readable, snapshot.get("direction", "higher")))
    return out


def run_items(store: Any, run_id: int, keep: Callable[[str], bool] = lambda subtask: True
              ) -> tuple[dict[str, dict], dict[str, str], dict[str, Mapping[str, Any]]]:
    """A run's rows (uid -> row, in run order) of the sub-tasks ``keep`` accepts, their verdicts
    (uid -> verdict), and the run's sub-task snapshots: what every item view reads."""
    run = store.run(run_id)
    snapshots = run.snapshot_by_id
    grouped: dict[str, list[dict]] = {}
    from trust_tui.engine.judge import overlay

    judged_rows, _ = overlay.apply(store, run, store.item_rows(run_id))
    from trust_tui.engine.score import overrides

    # A reviewer's verdict replaces the judge's and the rules' for that very answer (marked
    # "overridden"; the scorecard's own table keeps the scorers' verdicts, engine/score/review.py).
    judged_rows, _ = overrides.apply(store, run, judged_rows)
    for row in judged_rows:
        if keep(row["subtask"]):
            grouped.setdefault(row["subtask"], []).append(row)
    rows: dict[str, dict] = {}
    verdicts: dict[str, str] = {}
    for subtask_id, members in grouped.items():
        verdicts.update(item_verdicts(members, snapshots.get(subtask_id, {})))
        rows.update((row["uid"], row) for row in members)
    return rows, verdicts, snapshots


def decision_note(sub: Any) -> str | None:
    """One line on how a sub-task's verdicts were decided, where it matters: the share of
    partial refusals inside a refusal rate, and the answers the rules left undecided.

    ``sub`` is a ``scorecard.SubtaskResult`` or its exported dict. The app, the CLI report and the
    exports all print this same line."""
    get = sub.get if isinstance(sub, Mapping) else lambda key, default=None: getattr(sub, key, default)
    partial, uncertain, n = get("partial", 0) or 0, get("uncertain", 0) or 0, get("n", 0) or 0
    parts = []
    if partial:
        share = f" ({100 * partial / n:.0f}% of {n})" if n else ""
        parts.append(f"{partial} partial refusal{'s' if partial != 1 else ''}{share}, counted as refusals")
    if uncertain:
        parts.append(f"{uncertain} answer{'s' if uncertain != 1 else ''} the rules could not decide, "
                     f"left out of the rate (`trust-tui items --verdict uncertain`)")
    from trust_tui.engine.judge.overlay import decided_note

    judged = decided_note(get("extras", None) or {})
    if judged:
        parts.append(judged)
    return "; ".join(parts) or None
