"""The `number` scorer: one rating out of free text, scale phrases, ranges, check."""

from __future__ import annotations

from typing import Any

import pytest

from trust_tui.engine.scorers import get
from trust_tui.engine.types import Item

SCALE = {"strongly disagree": -100, "somewhat disagree": -50, "neutral": 0, "somewhat agree": 50, "strongly agree": 100}


def item(gold: Any = 50) -> Item:
    return Item(id="n1", subtask="privacy/awareness_ratings", messages=({"role": "user", "content": "?"},), gold=gold)


# (answer, options, expected value or None for unparseable)
CASES: list[tuple[str, dict[str, Any], float | None]] = [
    ("50", {}, 50.0),
    ("-100) strongly disagree", {"scale": SCALE}, -100.0),
    ("+50", {}, 50.0),
    ("Rating: 75", {}, 75.0),
    ("My rating is 2.5", {}, 2.5),
    ("On a scale from -100 to 100, I would rate this 50.", {}, 50.0),
    ("I'd give it 7 out of 10.", {}, 7.0),
    ("7/10", {}, 7.0),
    ("I strongly disagree.", {"scale": SCALE}, -100.0),
    ("Somewhat agree", {"scale": SCALE}, 50.0),
    ("Answer: -50 (somewhat disagree)", {"scale": SCALE}, -50.0),
    ("The flow is acceptable. I rate it 100 because the doctor needs it.", {}, 100.0),
    ("\u2212100", {}, -100.0),  # a Unicode minus sign
    ("**-50**", {}, -50.0),
    ("It is fine. 100. Definitely 100.", {}, 100.0),  # several mentions of one value
    ("There are 3 people and 4 dogs.", {}, None),  # several values, none marked
    ("It is somewhere between 50-60", {}, None),  # only a range
    ("I strongly disagree.", {}, None),  # no scale given, no number
    ("I am not sure.", {}, None),
    ("", {}, None),
]


@pytest.mark.parametrize(("text", "options", "expected"), CASES)
def test_number(text: str, options: dict[str, Any], expected: float | None) -> None:
    score = get("number")(item(), text, options)
    assert score.value == expected, score.reason
    if expected is None:
        assert score.label == "unparseable"
    else:
        assert score.label == f"rating:{expected:g}"


def test_label_formats() -> None:
    assert get("number")(item(), "2.5", {}).label == "rating:2.5"
    assert get("number")(item(), "-100", {}).label == "rating:-100"


@pytest.mark.parametrize(
    ("gold", "options", "problem"),
    [
        (50, {}, None),
        (-12.5, {"scale": SCALE}, None),
        ("50", {}, "field 'gold': scorer 'number' needs a number, got '50'"),
        (None, {}, "field 'gold'"),
        (True, {}, "field 'gold'"),
        (50, {"scale": {"agree": "high"}}, "option 'scale'"),
        (50, {"range": [0, 100]}, "option 'range'"),
    ],
)
def test_check(gold: Any, options: dict[str, Any], problem: str | None) -> None:
    message = get("number").check(item(gold), options)
    assert message is None if problem is None else message.startswith(problem), message
