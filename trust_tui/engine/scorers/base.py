"""The scorer contract and registry.

A scorer is a pure function ``(item, answer_text, options) -> Score`` plus a ``check`` that
validates an item (and the sub-task's options) when a bundle is loaded, so a bad gold field is
reported as ``file:line`` before any generation happens. Bump ``version`` whenever a scorer's
verdicts can change: stored scores are keyed by (answer, scorer, version), so ``trust-tui rescore``
recomputes them from cached answers without generating anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from trust_tui.engine.types import Item, Score

ScoreFn = Callable[[Item, str, Mapping[str, Any]], Score]
CheckFn = Callable[[Item, Mapping[str, Any]], "str | None"]


def _no_check(item: Item, options: Mapping[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class Scorer:
    name: str
    version: int
    fn: ScoreFn
    check: CheckFn = _no_check
    description: str = ""

    def __call__(self, item: Item, text: str, options: Mapping[str, Any] | None = None) -> Score:
        return self.fn(item, text, options or {})


_REGISTRY: dict[str, Scorer] = {}


def register(scorer: Scorer) -> Scorer:
    if scorer.name in _REGISTRY and _REGISTRY[scorer.name] is not scorer:
        raise ValueError(f"scorer {scorer.name!r} registered twice")
    _REGISTRY[scorer.name] = scorer
    return scorer


def get(name: str) -> Scorer:
    from trust_tui.engine import scorers  # noqa: F401  (imports every family, filling the registry)

    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(name) from None


def names() -> list[str]:
    from trust_tui.engine import scorers  # noqa: F401

    return sorted(_REGISTRY)
