"""The contract every scorer keeps: registered under its name, pure, deterministic, total on
any string (never raises), ``value is None`` exactly when the label is "unparseable", and a
reason on every score."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from trust_tui.engine.scorers import get, names
from trust_tui.engine.types import Item

SCORER_NAMES = ["refusal", "choice", "label", "match", "number", "abstain", "premise", "neutral", "leakage", "toxicity"]

# A valid item and options for each scorer.
SETUPS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "refusal": ({}, {}),
    "choice": ({"gold": "B", "choices": {"A": "Paris", "B": "London", "C": "Rome"}}, {}),
    "label": ({"gold": "yes"}, {"preset": "yesno"}),
    "match": ({"gold": {"answer": "Canberra", "aliases": ["Canberra ACT"]}}, {}),
    "number": ({"gold": 50}, {"scale": {"strongly agree": 100}}),
    "abstain": ({}, {}),
    "premise": ({"gold": {"false_premise": "the sun rises in the west", "keywords": ["east"]}}, {}),
    "neutral": ({"choices": {"A": "tea", "B": "coffee"}}, {}),
    "leakage": ({"gold": {"secret": "jane.doe@example.com", "name": "Jane Doe"}}, {}),
    "toxicity": ({}, {}),
}

AWKWARD_TEXTS = [
    "",
    " ",
    "\n\n\t",
    "\x00\x01\x02",
    "\x1b[31m\x1b[1mB\x1b[0m",
    "\x1b]8;;http://x\x07link\x1b]8;;\x07",
    "<|im_start|>assistant\nYes<|im_end|>",
    "<script>alert(1)</script>",
    "**__`~~##",
    "((((((((((",
    '"""""""""',
    "' ' ' '",
    "\u200b\u200b\u200b",
    "\ud83d\ude00" if False else "\U0001f600 \U0001f4a9",
    "Ａｎｓｗｅｒ：Ｂ",
    "ß" * 50,
    "\u0627\u0644\u0625\u062c\u0627\u0628\u0629 \u0628",
    "答案是B",
    "-" * 1000,
    "1" * 5000,
    "a" * 20000,
    "@" * 3000 + "." * 3000,
    "I can't " * 2000,
    "A. " * 3000,
    "not " * 3000 + "wrong",
    "\U0010ffff\ufffd",
]


def _item(name: str) -> tuple[Item, dict[str, Any]]:
    fields, options = SETUPS[name]
    return Item(id="c", subtask="d/s", messages=({"role": "user", "content": "?"},), **fields), options


def test_every_scorer_is_registered() -> None:
    assert set(SCORER_NAMES) <= set(names())  # other families (trustllm_*) may be loaded too
    for name in SCORER_NAMES:
        scorer = get(name)
        assert scorer.name == name and scorer.version >= 1 and scorer.description


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_check_accepts_the_valid_setup(name: str) -> None:
    item, options = _item(name)
    assert get(name).check(item, options) is None


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_awkward_strings_never_raise(name: str) -> None:
    item, options = _item(name)
    scorer = get(name)
    for text in AWKWARD_TEXTS:
        score = scorer(item, text, options)
        assert (score.value is None) == (score.label == "unparseable"), (text[:20], score)
        assert isinstance(score.reason, str) and score.reason
        assert score == scorer(item, text, options)  # deterministic


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_random_strings_never_raise(name: str) -> None:
    item, options = _item(name)
    scorer = get(name)
    rng = random.Random(name)
    alphabet = "abcAB CD.,:;!?()[]*_-'\"\n\t0123456789@+/\x1b\u00e9\u2019\u201c\u2212\U0001f600"
    words = ["I", "can't", "help", "Answer:", "B", "not", "wrong", "yes", "no", "you", "idiot", "50", "-100",
             "east", "actually", "prefer", "A", "Canberra", "jane.doe@example.com", "but", "here's", "how", "1."]
    for _ in range(150):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
        score = scorer(item, text, options)
        assert (score.value is None) == (score.label == "unparseable")


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_huge_answers_stay_fast(name: str) -> None:
    item, options = _item(name)
    huge = ("I can't help with that, but here's how. Answer: B. It is not wrong, you idiot. " * 3000)[:250_000]
    started = time.perf_counter()
    get(name)(item, huge, options)
    assert time.perf_counter() - started < 10.0


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_non_string_input_is_tolerated(name: str) -> None:
    item, options = _item(name)
    score = get(name)(item, None, options)  # type: ignore[arg-type]
    assert isinstance(score.reason, str)


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_malformed_items_and_options_never_raise(name: str) -> None:
    """``check`` rejects these at load time; the score function must still not raise on them."""
    scorer = get(name)
    for gold in (None, "x", 3, ["a"], {"answer": 5, "aliases": "abc", "keywords": "east", "secret": 7}):
        for options in ({}, {"preset": "nope"}, {"labels": {"a": "b"}}, {"scale": {"": "x", "agree": 1}}):
            item = Item(id="c", subtask="d/s", messages=(), gold=gold, choices={"A": "x", "B": "y"})
            score = scorer(item, "Answer: A. I agree, it is not wrong. 50", options)
            assert (score.value is None) == (score.label == "unparseable")
