"""Seeded, stratified sampling of units (a record, or records that must stay together).

A unit carries a tuple of strata, outermost first (e.g. ``(source, label)``). The sample
interleaves the strata round-robin at every level, in an order shuffled by the seed, so a
sample of 10 from a file with 4 sources and 2 labels per source takes every source before a
second item of any, and both labels of a source before a second of either.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Unit:
    """Records that enter a sample together (a pair, a perturbation group, or one record),
    with the bundle items made from them: (sub-task name, item)."""

    strata: tuple[str, ...]
    records: list[int]
    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def interleave(units: list[Unit], rng: random.Random, depth: int = 0) -> list[Unit]:
    """Every unit once, strata taken round-robin at each level (order shuffled by ``rng``)."""
    if len(units) <= 1:
        return list(units)
    if all(len(u.strata) <= depth for u in units):
        shuffled = list(units)
        rng.shuffle(shuffled)
        return shuffled
    groups: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        groups[unit.strata[depth] if len(unit.strata) > depth else ""].append(unit)
    keys = sorted(groups)
    rng.shuffle(keys)
    queues = [interleave(groups[key], rng, depth + 1) for key in keys]
    ordered: list[Unit] = []
    position = 0
    while len(ordered) < len(units):
        for queue in queues:
            if position < len(queue):
                ordered.append(queue[position])
        position += 1
    return ordered


def stratified_sample(units: list[Unit], size: int, seed: int, salt: str) -> list[Unit]:
    """Units until at least one and at most about ``size`` records are in (a unit is never
    split), in their original order. The same seed and salt always give the same sample."""
    rng = random.Random(f"{seed}:{salt}")
    chosen: list[Unit] = []
    count = 0
    for unit in interleave(units, rng):
        if chosen and count + len(unit.records) > size:
            if count >= size or len(unit.records) > 1:
                continue
        chosen.append(unit)
        count += len(unit.records)
        if count >= size:
            break
    return sorted(chosen, key=lambda u: u.records[0])
