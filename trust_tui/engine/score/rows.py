"""Reading one sub-task's stored rows, for the metrics: the item behind a row, its group, its
pair, whether its verdict was decided. Shared by the core metrics and feature packages' metrics."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterable, Mapping

from trust_tui.engine.run import records

UNCERTAIN = "uncertain"  # the label of a verdict the scorer's rules could not decide


item_of = records.item_of  # the bundle item behind a row (decoded in one place: engine/run/records.py)


def scored(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows with a stored score (done, scored)."""
    return [r for r in rows if r["status"] == "done" and r.get("scored")]


def decided(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows whose verdict was decided: an "uncertain" answer is neither a pass nor a fail
    (nor unparseable), so a proportion leaves it out of its denominator."""
    return [row for row in rows if row.get("score_label") != UNCERTAIN or row["score_value"] is not None]


def pairs_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """pair id -> {variant: row} over the rows that belong to a pair."""
    pairs: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for row in rows:
        item = item_of(row)
        if item.get("pair"):
            pairs[item["pair"]][item.get("variant") or ""] = row
    return pairs


def group_of(row: Mapping[str, Any], by: str) -> str:
    """The group a row belongs to: its gold value, its variant, or the value of its first tag
    ``<by>:<value>``."""
    item = item_of(row)
    if by == "gold":
        gold = item.get("gold")
        return gold if isinstance(gold, str) else json.dumps(gold, sort_keys=True)
    if by == "variant":
        return item.get("variant") or ""
    for tag in item.get("tags", []):
        if tag.startswith(by + ":"):
            return tag.split(":", 1)[1]
    return "(none)"


def same_outcome(x: Mapping[str, Any], y: Mapping[str, Any]) -> bool:
    return (x["score_value"], x["score_label"]) == (y["score_value"], y["score_label"])


def excluded(options: Mapping[str, Any]) -> bool:
    """``unparseable = "exclude"``: unreadable answers are left out instead of counting as 0."""
    return options.get("unparseable") == "exclude"
