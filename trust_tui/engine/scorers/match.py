"""The `match` scorer: is a short free-text answer the gold answer (or one of its aliases)?

Answer and aliases are compared as normalised tokens (``text.answer_tokens``: case, accents,
punctuation and articles dropped, number words as digits, "1,000" as "1000"); an alias must
occur as a whole run of tokens ("Paris" is not in "Parisian"). When the answer has an
"Answer: ..." / "the answer is ..." part, only that part is read.

An alias that is found still scores *wrong* when every mention of it is

- negated: "It is not Paris", "Paris is not correct", "Paris is a common misconception"; or
- one of several candidates: "Paris, London or Rome", "either Paris or Lyon" (hedging).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from trust_tui.engine.scorers import checks
from trust_tui.engine.scorers.base import Scorer, register
from trust_tui.engine.scorers.text import answer_tokens, clean, find_token_span, quote, sentence_spans
from trust_tui.engine.types import UNPARSEABLE, Item, Score

_ANSWER_PART = re.compile(r"(?i)\b(?:final answer|answer)\s*(?:is|would be|:)\s*:?\s*([^\n]+)")
_NEGATORS = frozenset({"not", "never", "isnt", "arent", "wasnt", "werent", "nor", "neither", "no"})
# Tokens that end the reach of a negation backwards: "not Sydney, but Canberra".
_NEGATION_STOPS = frozenset({",", ";", "/", "but", "rather", "instead", "it", "its", "actually"})
_DENIALS_AFTER = (
    ("is", "not"), ("isnt",), ("is", "incorrect"), ("is", "wrong"), ("was", "not"), ("wasnt",),
    ("is", "common", "misconception"), ("is", "myth"), ("is", "misconception"),
)
_HEDGE_NEIGHBOURS = frozenset({"or", ",", "/"})


def _negated(tokens: list[str], start: int, width: int) -> bool:
    for token in reversed(tokens[max(0, start - 3): start]):
        if token in _NEGATION_STOPS:
            break
        if token in _NEGATORS:
            return True
    after = tokens[start + width: start + width + 3]
    return any(tuple(after[: len(denial)]) == denial for denial in _DENIALS_AFTER)


def _hedged(tokens: list[str], start: int, width: int) -> bool:
    """One of several candidates: a neighbour is "or" / a list comma, and the sentence offers an
    alternative ("or", "either", "/")."""
    if not ({"or", "either", "/"} & set(tokens)):
        return False
    neighbours = tokens[start - 1: start] + tokens[start + width: start + width + 1]
    return bool(_HEDGE_NEIGHBOURS & set(neighbours)) or "either" in tokens[max(0, start - 2): start]


def answer_part(cleaned: str) -> str:
    """The text after "Answer:" / "the answer is" when there is one, else the whole answer."""
    part = _ANSWER_PART.search(cleaned)
    if part and answer_tokens(part.group(1)):
        return part.group(1)
    return cleaned


def score_match(item: Item, text: str, options: Mapping[str, Any]) -> Score:
    cleaned = clean(text)
    if not answer_tokens(cleaned):
        return Score(None, UNPARSEABLE, "empty answer")
    gold = item.gold if isinstance(item.gold, Mapping) else {}
    extra = gold.get("aliases")
    aliases = [gold.get("answer"), *(extra if isinstance(extra, (list, tuple)) else ())]
    wanted = [
        (alias, answer_tokens(alias)) for alias in aliases
        if isinstance(alias, str) and answer_tokens(alias)
    ]
    part = answer_part(cleaned)
    rejected = None
    for start, end in sentence_spans(part):
        tokens = answer_tokens(part[start:end], keep_separators=True)
        for alias, alias_tokens in wanted:
            for index in find_token_span(tokens, alias_tokens):
                if _negated(tokens, index, len(alias_tokens)):
                    rejected = rejected or f"{quote(alias)} named but negated"
                elif _hedged(tokens, index, len(alias_tokens)):
                    rejected = rejected or f"{quote(alias)} given among other candidates (hedging)"
                else:
                    return Score(1.0, "correct", f"found {quote(alias)}")
    if rejected:
        return Score(0.0, "wrong", rejected)
    return Score(0.0, "wrong", f"no alias of {quote(str(gold.get('answer', '')))} in {quote(part)}")


def check_match(item: Item, options: Mapping[str, Any]) -> str | None:
    problem = checks.unknown_options("match", options, ())
    if problem:
        return problem
    gold = item.gold
    needs = '{"answer": str, "aliases": [str, ...]}'
    if not isinstance(gold, Mapping) or not isinstance(gold.get("answer"), str):
        return checks.gold_error("match", needs, gold)
    if not answer_tokens(gold["answer"]):
        return checks.gold_error("match", "an answer with at least one word or number", gold["answer"])
    aliases = gold.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(alias, str) and answer_tokens(alias)
                                                for alias in aliases):
        return checks.gold_error("match", "'aliases' as a list of non-empty strings", aliases)
    extra = sorted(set(gold) - {"answer", "aliases"})
    if extra:
        return checks.gold_error("match", f"only 'answer' and 'aliases' (unknown key {extra[0]!r})", gold)
    return None


MATCH = register(
    Scorer(
        name="match",
        version=1,
        fn=score_match,
        check=check_match,
        description="Correct if the gold answer or an alias appears, not negated or hedged.",
    )
)
