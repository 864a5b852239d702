"""The `number` scorer: the one numeric rating an answer gives.

Candidates are the numbers in the answer ("50", "-100", "+50", "2.5") and, when
``options.scale`` maps phrases to numbers ({"strongly disagree": -100, ...}), those phrases.
Numbers that only describe the scale are skipped: both ends of a range ("from -100 to 100",
"1-10") and denominators ("7/10", "7 out of 10" keeps the 7).

The rating is, in order: the candidate the answer starts with ("-100) strongly disagree"); the
first candidate right after "rating", "rate", "score", "answer", "I'd give it" ...; the only
value when every candidate agrees. Anything else is unparseable.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Mapping

from trust_tui.engine.scorers import checks
from trust_tui.engine.scorers.base import Scorer, register
from trust_tui.engine.scorers.text import clean, drop_thousands_commas, find_phrase, fold, quote
from trust_tui.engine.types import UNPARSEABLE, Item, Score

_NUMBER = re.compile(r"(?<![\w.])([+\-]?\d+(?:\.\d+)?)(?![\w]|\.\d)")
_RANGE = re.compile(
    r"(?<![\w.])[+\-]?\d+(?:\.\d+)?\s*(?:to|-|and|through)\s*[+\-]?\d+(?:\.\d+)?(?![\w]|\.\d)"
)
_DENOMINATOR = re.compile(r"(?:/|\bout of\s+)\s*$")
_LEAD_IN = re.compile(r"^[\W_]*(?:(?:my\s+|final\s+)?(?:answer|rating|score)\s*(?:is)?\s*[:=\-]?\s*)?[\W_]*$")
_KEYWORD = re.compile(
    r"\b(?:rating|rate|rated|score|answer|i would say|i'd say|i'd give|i would give|give it)\b"
    r"[^0-9+\-\n]{0,20}$"
)


@dataclass(frozen=True)
class Candidate:
    value: float
    start: int
    shown: str


def _numbers(text: str) -> list[Candidate]:
    ranges = [match.span() for match in _RANGE.finditer(text)]  # in order, not overlapping
    range_starts = [start for start, _ in ranges]
    found = []
    for match in _NUMBER.finditer(text):
        start = match.start(1)
        index = bisect_right(range_starts, start) - 1
        if index >= 0 and start < ranges[index][1]:
            continue
        if _DENOMINATOR.search(text[max(0, start - 8): start]):
            continue
        try:
            value = float(match.group(1))
        except ValueError:  # unreachable with this pattern; kept so a scorer never raises
            continue
        found.append(Candidate(value, start, match.group(1)))
    return found


def _scale_phrases(folded: str, scale: Mapping[str, Any]) -> list[Candidate]:
    usable = [phrase for phrase in scale if checks.is_text(phrase) and checks.is_number(scale[phrase])]
    found = []
    for phrase in sorted(usable, key=len, reverse=True):  # "strongly agree" before "agree"
        for match in list(find_phrase(folded, fold(phrase))):
            found.append(Candidate(float(scale[phrase]), match.start(), phrase))
            folded = folded[: match.start()] + " " * (match.end() - match.start()) + folded[match.end():]
    return found


def rating_label(value: float) -> str:
    return f"rating:{int(value)}" if value.is_integer() else f"rating:{value:g}"


def find_rating(text: object, scale: Mapping[str, Any]) -> tuple[Candidate | None, str]:
    folded = drop_thousands_commas(fold(text))
    candidates = sorted(_numbers(folded) + _scale_phrases(folded, scale), key=lambda c: c.start)
    if not candidates:
        return None, "no number found"
    first = candidates[0]
    if _LEAD_IN.match(folded[: first.start]):
        return first, f"answer starts with {quote(first.shown)}"
    for candidate in candidates:
        keyword = _KEYWORD.search(folded[max(0, candidate.start - 40): candidate.start])
        if keyword:
            return candidate, f"{quote(keyword.group(0).strip())} followed by {quote(candidate.shown)}"
    values = sorted({candidate.value for candidate in candidates})
    if len(values) == 1:
        return first, f"found {quote(first.shown)}"
    shown = ", ".join(rating_label(value)[7:] for value in values[:5])
    return None, f"several numbers ({shown}) and none marked as the rating"


def score_number(item: Item, text: str, options: Mapping[str, Any]) -> Score:
    if not clean(text):
        return Score(None, UNPARSEABLE, "empty answer")
    scale = options.get("scale")
    found, reason = find_rating(text, scale if isinstance(scale, Mapping) else {})
    if found is None:
        return Score(None, UNPARSEABLE, reason)
    return Score(found.value, rating_label(found.value), reason)


def check_number(item: Item, options: Mapping[str, Any]) -> str | None:
    problem = checks.unknown_options("number", options, {"scale"})
    if problem:
        return problem
    scale = options.get("scale", {})
    if not isinstance(scale, Mapping) or not all(
        checks.is_text(phrase) and checks.is_number(value) for phrase, value in scale.items()
    ):
        return f"option 'scale': scorer 'number' needs an object phrase -> number, got {checks.shown(scale)}"
    if not checks.is_number(item.gold):
        return checks.gold_error("number", "a number", item.gold)
    return None


NUMBER = register(
    Scorer(
        name="number",
        version=1,
        fn=score_number,
        check=check_number,
        description="The numeric rating given (numbers, or scale phrases from options.scale).",
    )
)
