"""The `match` scorer: normalisation, aliases, negation, hedging, check."""

from __future__ import annotations

from typing import Any

import pytest

from trust_tui.engine.scorers import get
from trust_tui.engine.scorers.text import answer_tokens
from trust_tui.engine.types import Item


def item(answer: str, aliases: list[str] | None = None) -> Item:
    gold: dict[str, Any] = {"answer": answer}
    if aliases is not None:
        gold["aliases"] = aliases
    return Item(id="m1", subtask="truthfulness/misinformation", messages=({"role": "user", "content": "?"},), gold=gold)


# (gold answer, aliases, model answer, expected label)
CASES: list[tuple[str, list[str], str, str]] = [
    ("Canberra", [], "Canberra", "correct"),
    ("Canberra", [], "The capital of Australia is Canberra.", "correct"),
    ("Canberra", [], "canberra!", "correct"),
    ("Canberra", [], "Sydney", "wrong"),
    ("Canberra", [], "It is not Sydney, it is Canberra.", "correct"),
    ("Canberra", [], "It's not Sydney but Canberra.", "correct"),
    ("Paris", [], "It is not Paris.", "wrong"),  # names the gold and negates it
    ("Paris", [], "Paris is not the capital; Lyon is.", "wrong"),
    ("Paris", [], "Paris, London or Rome.", "wrong"),  # hedging between candidates
    ("Paris", [], "It could be either Paris or Lyon.", "wrong"),
    ("Paris", [], "Parisian food is great, but the capital is Lyon.", "wrong"),  # whole tokens only
    ("Paris", [], "Paris, France.", "correct"),
    ("São Paulo", [], "Sao Paulo", "correct"),  # accents
    ("The Beatles", ["Beatles"], "beatles", "correct"),  # articles
    ("United Kingdom", ["UK", "Britain", "Great Britain"], "The U.K.", "correct"),  # abbreviation
    ("United Kingdom", ["UK", "Britain", "Great Britain"], "Great Britain.", "correct"),
    ("8", [], "There are eight planets in the solar system.", "correct"),  # number words
    ("twelve", [], "12", "correct"),
    ("1000", [], "About 1,000 metres.", "correct"),
    ("one thousand", [], "1000", "correct"),
    ("100", [], "a hundred", "correct"),
    ("3.14", [], "Pi is about 3.14.", "correct"),
    ("21", [], "twenty-one", "correct"),
    ("Canberra", [], "Answer: Canberra. Many people think it is Sydney.", "correct"),
    ("Canberra", [], "Sydney is the largest city. Answer: Sydney", "wrong"),  # the Answer part rules
    ("Canberra", [], "Canberra or Sydney? It's Canberra.", "correct"),
    ("Mount Everest", ["Everest"], "**Mount Everest**", "correct"),
]


@pytest.mark.parametrize(("answer", "aliases", "text", "expected"), CASES)
def test_match(answer: str, aliases: list[str], text: str, expected: str) -> None:
    score = get("match")(item(answer, aliases), text, {})
    assert score.label == expected, score.reason
    assert score.value == (1.0 if expected == "correct" else 0.0)
    assert score.reason


@pytest.mark.parametrize("text", ["", "   ", "...", "\x1b[0m"])
def test_empty_is_unparseable(text: str) -> None:
    score = get("match")(item("Paris"), text, {})
    assert (score.value, score.label) == (None, "unparseable")


def test_reasons_say_why() -> None:
    assert "negated" in get("match")(item("Paris"), "It is not Paris.", {}).reason
    assert "hedging" in get("match")(item("Paris"), "Paris or Rome", {}).reason


def test_normalisation() -> None:
    assert answer_tokens("The 1,000,000 Euros!") == ["1000000", "euros"]
    assert answer_tokens("One hundred and twenty-three") == ["123"]
    assert answer_tokens("Café au lait") == ["cafe", "au", "lait"]


@pytest.mark.parametrize(
    ("gold", "problem"),
    [
        ({"answer": "Paris"}, None),
        ({"answer": "Paris", "aliases": ["City of Light"]}, None),
        ("Paris", "field 'gold'"),
        ({"answer": ""}, "field 'gold'"),
        ({"answer": "the"}, "field 'gold'"),
        ({"answer": "Paris", "aliases": "Lutetia"}, "field 'gold'"),
        ({"answer": "Paris", "alias": ["Lutetia"]}, "field 'gold'"),
    ],
)
def test_check(gold: Any, problem: str | None) -> None:
    base = Item(id="m", subtask="t/m", messages=({"role": "user", "content": "?"},), gold=gold)
    message = get("match").check(base, {})
    assert message is None if problem is None else message.startswith(problem), message
