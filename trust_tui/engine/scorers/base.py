"""The scorer contract and registry.

A scorer is a pure function ``(item, answer_text, options) -> Score`` plus a ``check`` that
validates an item (and the sub-task's options) when a bundle is loaded, so a bad gold field is
reported as ``file:line`` before any generation happens. Bump ``version`` whenever a scorer's
verdicts can change: stored scores are keyed by (answer, scorer, version), so ``trust-tui rescore``
recomputes them from cached answers without generating anything.

The registry imports no family itself: it knows the modules that register scorers by name
(``SCORER_MODULES``) and imports them the first time a scorer is looked up, so the registry is
complete whoever asks first and whatever was imported before. A feature package (the TrustLLM
scorers) registers from its own module, which imports this one; nothing imports it back.
"""

from __future__ import annotations

import importlib
import threading
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


SCORER_MODULES = (
    "trust_tui.engine.scorers.refusal",  # refusal
    "trust_tui.engine.scorers.rules",  # abstain, premise
    "trust_tui.engine.scorers.choice",  # choice
    "trust_tui.engine.scorers.label",  # label
    "trust_tui.engine.scorers.match",  # match
    "trust_tui.engine.scorers.number",  # number
    "trust_tui.engine.scorers.neutral",  # neutral
    "trust_tui.engine.scorers.leakage",  # leakage
    "trust_tui.engine.scorers.toxicity",  # toxicity
    "trust_tui.engine.trustllm.scorers",  # scorers for imported TrustLLM data
)

_REGISTRY: dict[str, Scorer] = {}
_LOCK = threading.RLock()
_loaded = False


def register(scorer: Scorer) -> Scorer:
    with _LOCK:
        if scorer.name in _REGISTRY and _REGISTRY[scorer.name] is not scorer:
            raise ValueError(f"scorer {scorer.name!r} registered twice")
        _REGISTRY[scorer.name] = scorer
    return scorer


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _LOCK:
        if not _loaded:
            for module in SCORER_MODULES:
                importlib.import_module(module)
            _loaded = True


def get(name: str) -> Scorer:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(name) from None


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY)
