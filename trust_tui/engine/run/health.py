"""Is a run's output a measurement at all? Degenerate answers and grouped skip reasons.

A damaged model file (corrupted tensor data that still loads), a wrong chat template or a
server that answers nonsense gives a run that "finishes" with answers that are all empty, all
the same, or all unreadable, and the scorers turn them into a confident-looking 0%. A score
computed from such answers describes the breakage, not the model, so the CLI, the export and
the app show a warning instead of letting it pass as a result.

The rules are deliberately blunt, so a weak model is not mistaken for a broken one: small
models answer format-constrained prompts badly (a high unparseable share is normal for them),
and a biased one may answer "A" to every multiple-choice item. So only what no working model
does counts: at least half the answers empty; one answer repeated for nearly every item across
different kinds of prompt; or nearly every answer unparseable, well beyond what other runs of
the same bundle in this store had.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from trust_tui.engine.run.store import Store
from trust_tui.sanitize import inert

MIN_ANSWERS = 4  # below this nothing is judged: a two-item smoke run is not evidence
EMPTY_SHARE = 0.5
IDENTICAL_SHARE = 0.8
IDENTICAL_MIN_ANSWERS = 8
UNPARSEABLE_SHARE = 0.9
UNPARSEABLE_MIN_ANSWERS = 8
UNPARSEABLE_MARGIN = 0.3  # above the median of this bundle's other runs in the store


@dataclass(frozen=True)
class Health:
    answers: int  # answered items looked at
    empty: int
    identical: int  # items whose answer is the most common one
    unparseable: int
    usual_unparseable: float | None  # median share in this bundle's other runs, when there are any
    problem: str = ""  # "" when the answers look like answers

    @property
    def broken(self) -> bool:
        return bool(self.problem)


_SPACE = re.compile(r"\s+")


def _normal(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def assess(rows: Iterable[Mapping[str, Any]], usual_unparseable: float | None = None) -> Health:
    """Judge the answered rows of a run (``Store.item_rows`` rows: status, subtask, answer,
    score_value, score_label)."""
    answered = [r for r in rows if r.get("status") == "done"]
    n = len(answered)
    texts = [_normal(r.get("answer")) for r in answered]
    empty = sum(1 for t in texts if not t)
    counts = Counter(t for t in texts if t)
    top, top_count = counts.most_common(1)[0] if counts else ("", 0)
    top_subtasks = {r.get("subtask") for r, t in zip(answered, texts) if t == top}
    unparseable = sum(1 for r in answered
                      if r.get("score_value") is None and r.get("score_label") != "uncertain")
    health = Health(n, empty, top_count, unparseable, usual_unparseable)
    if n < MIN_ANSWERS:
        return health
    problem = ""
    if empty >= EMPTY_SHARE * n:
        problem = f"{empty}/{n} empty"
    elif (n >= IDENTICAL_MIN_ANSWERS and top_count >= IDENTICAL_SHARE * n
          and (len(top_subtasks) > 1 or len(top) > 16)):
        # One label for every item of one multiple-choice task is a (bad) model; the same text
        # for different kinds of prompt, or a long sentence repeated verbatim, is not.
        problem = f'{top_count}/{n} identical ("{_short(inert(top, single_line=True))}")'
    elif n >= UNPARSEABLE_MIN_ANSWERS and unparseable >= UNPARSEABLE_SHARE * n and (
            usual_unparseable is None or unparseable / n >= usual_unparseable + UNPARSEABLE_MARGIN):
        usual = "" if usual_unparseable is None else f", usually {100 * usual_unparseable:.0f}% here"
        problem = f"{unparseable}/{n} unparseable{usual}"
    if not problem:
        return health
    return Health(n, empty, top_count, unparseable, usual_unparseable,
                  f"answers look broken: {problem} — damaged model file or wrong chat template?")


def usual_unparseable(store: Store, run: Mapping[str, Any]) -> float | None:
    """Median unparseable share of the other finished runs of the same bundle in this store."""
    others = store.unparseable_counts(run["bundle"], run["id"])
    shares = [bad / done for _, done, bad in others if done]
    return statistics.median(shares) if shares else None


def run_health(store: Store, run_id: int) -> Health:
    run = store.run(run_id)
    return assess(store.item_rows(run_id), usual_unparseable(store, run))


# --------------------------------------------------------------------------- skip reasons

_KNOWN_SKIPS = (
    (re.compile(r"exceeds the context|does not fit the context|too long", re.I), "prompt too long"),
    (re.compile(r"cut off|truncated|no finish_reason", re.I), "answer cut off"),
    (re.compile(r"timed? ?out|timeout", re.I), "timed out"),
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def skip_kind(reason: str | None) -> str:
    """A skip reason without its per-item numbers, so equal causes group together."""
    text = _normal(reason)
    for pattern, kind in _KNOWN_SKIPS:
        if pattern.search(text):
            return kind
    if not text:
        return "no reason recorded"
    return _short(_NUMBER.sub("N", text), 60)


def skip_reasons(store: Store, run_id: int) -> list[tuple[str, int]]:
    """(kind, count) of a run's skipped items, most frequent first."""
    return Counter(skip_kind(reason) for reason in store.skip_reasons(run_id)).most_common()


def describe_skips(reasons: list[tuple[str, int]]) -> str:
    """'skipped 8: prompt too long (8)' — or 'skipped 0'."""
    total = sum(count for _, count in reasons)
    if not total:
        return "skipped 0"
    return f"skipped {total}: " + ", ".join(f"{kind} ({count})" for kind, count in reasons)
