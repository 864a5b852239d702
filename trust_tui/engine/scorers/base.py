"""The scorer contract and registry.

A scorer is a pure function ``(item, answer_text, options) -> Score`` plus a ``check`` that
validates an item (and the sub-task's options) when a bundle is loaded, so a bad gold field is
reported as ``file:line`` before any generation happens. Bump ``version`` whenever a scorer's
verdicts can change: stored scores are keyed by (answer, scorer, version), so ``trust-tui rescore``
recomputes them from cached answers without generating anything.

The modules that register scorers are listed in ``SCORER_MODULES`` and imported on the first
lookup (trust_tui/engine/registry.py says why); the TrustLLM feature registers from its own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from trust_tui.engine.registry import Registry
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

_SCORERS: Registry[Scorer] = Registry("scorer", SCORER_MODULES)
_REGISTRY = _SCORERS.entries  # tests register fixtures here with monkeypatch.setitem
register = _SCORERS.register
get = _SCORERS.get


def names() -> list[str]:
    return sorted(scorer.name for scorer in _SCORERS.values())
