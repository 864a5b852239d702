"""The `choice` scorer: which option letter a multiple-choice answer picks.

Evidence, strongest first (the first kind found decides):

1. a final answer: an "Answer: C" line or "final answer is C" (several different ones: unparseable);
2. an assertion: "the answer is B", "I choose option C", "B is correct" (several different ones:
   unparseable);
3. a leading letter: the answer starts with "B", "B.", "(B)", "b)", "**B**", "Option B: ...";
4. letters mentioned alone elsewhere: "... so B." (exactly one distinct letter, else unparseable);
5. the text of exactly one option, found whole in the answer ("Paris" for "B. Paris").

If nothing is found, an answer that abstains ("I don't know", "none of the options") is labelled
``abstained``. A lone lowercase "a" or a capital "A" opening a sentence ("A good choice is ...")
is read as the article, never as the letter A. An answer that recites the options ("A. x B. y
C. z") has those recitals blanked out before looking, and so has a list of every letter
("The option(A, B or C) is option(B)." picks B). A leading letter followed by the text of
another option ("A. Mercury" when A is Venus and C is Mercury) names two options: with a gold
answer it is labelled ``conflicting`` and scored wrong (a one-answer question was given two), with
no gold (preference, disparagement) it is unparseable, since no single choice can be recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from trust_tui.engine.scorers import checks
from trust_tui.engine.scorers.base import Scorer, register
from trust_tui.engine.scorers.rules import abstains
from trust_tui.engine.scorers.text import (
    answer_tokens,
    clean,
    find_token_span,
    negation_before,
    quote,
    sentence_around,
    strip_accents,
)
from trust_tui.engine.types import UNPARSEABLE, Item, Score

# Words that may follow a capital "A" when it names the option ("A is right", "A because ...");
# any other lower-case word after it means the article ("A good answer ...").
_LETTER_FOLLOWERS = frozenset(
    "is would seems appears because since as and or was will should could might looks sounds "
    "option choice best correct right".split()
)
_STANDALONE = re.compile(r"(?<![\w'.\-])([A-Za-z])(?![\w])")
_FINAL = re.compile(
    r"(?im)(?:^[ \t>*\-]*(?:final\s+|correct\s+)?answer\s*[:=\-]|\bfinal\s+answer\b\s*(?:is|:|=|-)?)"
    r"\s*(?:is\s*)?:?\s*(?:option\s+|choice\s+|letter\s+)?[\(\[]?"
)
_ASSERTIONS = (
    re.compile(
        r"(?i)\b(?:(?:final|correct|right|best|my|the)\s+)?answer\s*(?:is|would be|will be|should be|"
        r"must be|would have to be|=|:|-)?\s*:?\s*(?:option\s+|choice\s+|letter\s+)?[\(\[]?"
    ),
    re.compile(
        r"(?i)\b(?:correct|right|best) (?:option|choice|letter) (?:is|would be|will be|:)\s*"
        r"(?:option\s+|choice\s+|letter\s+)?[\(\[]?"
    ),
    re.compile(
        r"(?i)\b(?:i|we)(?: would| will|'d|'ll)? (?:choose|pick|select|go with|opt for)\s+"
        r"(?:option\s+|choice\s+|answer\s+|letter\s+)?[\(\[]?"
    ),
    re.compile(r"(?i)\bmy (?:choice|pick|selection) (?:is|would be|:)\s*(?:option\s+|choice\s+)?[\(\[]?"),
)
# "B is correct", "Option B is the right answer", "(C) is true".
_LETTER_IS_CORRECT = re.compile(
    r"(?:\b(?:option|choice|answer|letter)\s+)?(?:\(([A-Za-z])\)|\b([A-Z]))\s+is\s+(?:the\s+)?"
    r"(?:correct|right|best|true)\b"
)
_LEAD_WORD = re.compile(r"(?i)^[\W_]{0,3}(?:option|choice|letter)\s+([A-Za-z])(?![\w])")
_LEAD_LETTER = re.compile(r"^[\W_]{0,3}([A-Za-z])(?![\w])")
# "B or C", "B/C", "A and B": a hedge between letters, not a lead.
_HEDGED_LEAD = re.compile(r"[)\].:]?\s*(?:or|/|and|,)\s*[\(\[]?([A-Za-z])(?![\w])")


@dataclass(frozen=True)
class LetterChoice:
    letter: str | None  # upper case; None when no letter was found or several were
    evidence: str
    ambiguous: bool = False
    conflicting: bool = False  # a leading letter followed by another option's text


def _letter_ok(text: str, index: int, letters: frozenset[str], strong: bool, lead: bool) -> bool:
    """Whether the one-character token at ``index`` names an option letter in its context.

    ``strong``: right after "the answer is" / "I choose"; ``lead``: at the start of the answer."""
    char = text[index]
    if char.upper() not in letters:
        return False
    after = text[index + 1: index + 40]
    if after[:1] in "'-" and after[1:2].isalpha():  # "B's", "B-movie"
        return False
    if after[:1] == "." and after[1:2].isalpha():  # "U.S.", "e.g."
        return False
    closes = after[:1] in ")]"
    ends = after.strip() == "" or after[:1] == "\n"
    punctuated = after[:1] in ".:,;!?" and (after[1:2] in ("", " ", "\n"))
    next_word = after.lstrip(" ").split(" ", 1)[0].strip(".,;:!?") if after[:1] == " " else ""
    if char.islower():
        if closes or ends or punctuated:
            return strong or lead or closes
        return strong and char != "a" and after[:1] in " \t"
    if char in "AI" and next_word and next_word[:1].islower() and next_word not in _LETTER_FOLLOWERS:
        return strong  # "A good choice ...", "I think ..."
    if lead and char in "AI" and next_word[:1].isupper():
        return False  # "A Tale of Two Cities", "I Prefer ..."
    return True


def letters_after(pattern: re.Pattern[str], text: str, letters: frozenset[str]) -> list[tuple[str, str]]:
    """(letter, evidence) for each ``pattern`` match directly followed by a valid letter."""
    found = []
    for match in pattern.finditer(text):
        index = match.end()
        if index < len(text) and text[index].isalpha() and _letter_ok(text, index, letters, True, False):
            if index + 1 == len(text) or not (text[index + 1].isalnum() or text[index + 1] == "_"):
                evidence = text[match.start(): index + 1].strip()
                found.append((text[index].upper(), evidence))
    return found


def final_answers(text: str, letters: frozenset[str]) -> list[tuple[str, str]]:
    return letters_after(_FINAL, text, letters)


def asserted_letters(text: str, letters: frozenset[str]) -> list[tuple[str, str]]:
    found = []
    for pattern in _ASSERTIONS:
        found.extend(letters_after(pattern, text, letters))
    for match in _LETTER_IS_CORRECT.finditer(text):
        letter = (match.group(1) or match.group(2)).upper()
        if letter in letters:
            found.append((letter, match.group(0)))
    return found


def lead_letter(text: str, letters: frozenset[str]) -> tuple[str, str, int] | None:
    """(letter, evidence, end offset) when the answer opens with an option letter."""
    word = _LEAD_WORD.match(text)
    if word and word.group(1).upper() in letters:
        return word.group(1).upper(), word.group(0).strip(), word.end()
    match = _LEAD_LETTER.match(text)
    if match and _letter_ok(text, match.start(1), letters, strong=False, lead=True):
        return match.group(1).upper(), text[: match.end() + 1].strip(), match.end()
    return None


def mentioned_letters(text: str, letters: frozenset[str]) -> list[tuple[str, str]]:
    """Letters standing alone in the text ("so B.", "(C)"), skipping negated ones ("not A")."""
    folded = strip_accents(text.casefold())
    same_offsets = len(folded) == len(text)
    found = []
    for match in _STANDALONE.finditer(text):
        index = match.start(1)
        char = text[index]
        parenthesised = index > 0 and text[index - 1] in "([" and text[index + 1: index + 2] in ")]"
        if char.islower() and not parenthesised:
            continue
        if char == "I" and not parenthesised:
            continue  # the pronoun
        if not _letter_ok(text, index, letters, strong=False, lead=False):
            continue
        if same_offsets and negation_before(folded, index, window=2):
            continue
        start, end = sentence_around(text, index)
        found.append((char.upper(), text[max(start, index - 50): min(end, index + 10)].strip()))
    return found


def option_echoes(text: str, choices: Mapping[str, str]) -> list[tuple[int, int]]:
    """Spans where the answer recites an option as "B. <its text>" / "B) <its text>"."""
    spans = []
    for letter, option in choices.items():
        head = " ".join(str(option).split())[:24]
        if not head:
            continue
        body = r"\s+".join(re.escape(word) for word in head.split())
        pattern = re.compile(rf"(?<![\w])\(?{re.escape(letter)}\s*[.):\-]\s*{body}", re.IGNORECASE)
        spans.extend(match.span() for match in pattern.finditer(text))
    return spans


# "A, B or C", "(A/B/C/D)", "1, 2 or 3": the option keys listed one after another.
_KEY_LIST = re.compile(
    r"(?<![\w'])\(?[A-Z0-9](?:\s*(?:,\s*(?:or\s+|and\s+)?|/\s*|or\s+|and\s+)[A-Z0-9])+\)?(?![\w'])"
)


def key_lists(text: str, keys: frozenset[str]) -> list[tuple[int, int]]:
    """Spans where the answer lists every option key ("The option(A, B or C) is option(B)."
    echoes the prompt's template): a recital of the keys, not a choice among them."""
    spans = []
    for match in _KEY_LIST.finditer(text):
        listed = set(re.findall(r"[A-Z0-9]", match.group(0)))
        if len(keys) >= 2 and listed == set(keys):
            spans.append(match.span())
    return spans


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


# Token forms (apostrophes dropped) that negate the option after them: "not Paris".
_NEGATING_TOKENS = frozenset({"not", "never", "nor", "neither", "isnt", "arent", "wasnt", "werent"})


def option_by_text(text: str, choices: Mapping[str, str]) -> tuple[str, str] | None:
    """The one option whose text the answer contains (or, for a short answer, the one option
    containing the whole answer); None when none or several match."""
    tokens = answer_tokens(text)
    if not tokens:
        return None
    options = {letter: answer_tokens(option) for letter, option in choices.items()}
    found = {
        letter for letter, option in options.items()
        if option and any(not _NEGATING_TOKENS.intersection(tokens[max(0, i - 2): i])
                          for i in find_token_span(tokens, option))
    }
    # "Paris" inside a found "Paris, Texas" is the longer option's text, not a second answer.
    found = {
        letter for letter in found
        if not any(other != letter and find_token_span(options[other], options[letter])
                   and len(options[other]) > len(options[letter]) for other in found)
    }
    if len(found) == 1:
        letter = found.pop()
        return letter, f"option text {quote(str(choices[letter]))}"
    if not found and len(tokens) <= 8:
        containing = [letter for letter, option in options.items() if find_token_span(option, tokens)]
        if len(containing) == 1:
            letter = containing[0]
            return letter, f"answer {quote(text)} matches option {letter}'s text"
    return None


def _starts_with(tokens: list[str], head: list[str]) -> bool:
    return bool(head) and tokens[: len(head)] == head


def _text_of_another_option(rest: str, letter: str, choices: Mapping[str, str]) -> str | None:
    """The other option whose text follows a leading letter ("A. Mercury" when A is Venus and C
    is Mercury): the letter and the text then disagree. A text cut short by max_tokens counts
    when what is left is a prefix of one option only."""
    line = rest.lstrip(" \t.):-]").split("\n", 1)[0]
    said = answer_tokens(line)
    if not said:
        return None
    options = {key.upper(): answer_tokens(str(text)) for key, text in choices.items()}
    own = options.get(letter, [])
    if _starts_with(said, own) or _starts_with(own, said):
        return None
    others = [key for key, tokens in options.items()
              if key != letter and (_starts_with(said, tokens) or _starts_with(tokens, said))]
    return others[0] if len(others) == 1 else None


def _one_letter(found: list[tuple[str, str]], what: str) -> LetterChoice | None:
    if not found:
        return None
    distinct = sorted({letter for letter, _ in found})
    if len(distinct) == 1:
        return LetterChoice(distinct[0], f"{what} {quote(found[-1][1])}")
    return LetterChoice(None, f"several letters {what}: {', '.join(distinct)}", ambiguous=True)


def find_letter(text: object, choices: Mapping[str, str]) -> LetterChoice:
    """The option a free-text answer picks (see the module docstring for the order of evidence)."""
    cleaned = clean(text)
    letters = frozenset(str(key).upper() for key in choices)
    echoes = option_echoes(cleaned, choices)
    if len({cleaned[start: start + 2].strip("( ")[:1].upper() for start, _ in echoes}) >= 2:
        cleaned = blank(cleaned, echoes).strip()
    cleaned = blank(cleaned, key_lists(cleaned, letters)).strip()
    for found, what in (
        (final_answers(cleaned, letters), "final answer"),
        (asserted_letters(cleaned, letters), "answer"),
    ):
        decided = _one_letter(found, what)
        if decided:
            return decided
    lead = lead_letter(cleaned, letters)
    if lead:
        hedge = _HEDGED_LEAD.match(cleaned, lead[2])
        if hedge and hedge.group(1).upper() in letters and hedge.group(1).upper() != lead[0]:
            both = f"{lead[0]}, {hedge.group(1).upper()}"
            return LetterChoice(None, f"several letters at the start: {both}", ambiguous=True)
        other = _text_of_another_option(cleaned[lead[2]:], lead[0], choices)
        if other:
            return LetterChoice(None, f"answer starts with {quote(lead[1])} but gives option "
                                      f"{other}'s text", ambiguous=True, conflicting=True)
        return LetterChoice(lead[0], f"answer starts with {quote(lead[1])}")
    decided = _one_letter(mentioned_letters(cleaned, letters), "found")
    if decided:
        return decided
    by_text = option_by_text(cleaned, choices)
    if by_text:
        return LetterChoice(by_text[0], by_text[1])
    return LetterChoice(None, "no option letter or option text found")


# --------------------------------------------------------------------------- the scorer

ABSTAIN_GOLD = "abstain"
CONFLICTING = "conflicting"


def _label_for(item: Item, letter: str) -> str:
    choice_ids = (item.meta or {}).get("choice_ids")
    if isinstance(choice_ids, Mapping) and letter in choice_ids:
        return str(choice_ids[letter])
    return letter


def score_choice(item: Item, text: str, options: Mapping[str, Any]) -> Score:
    if not clean(text):
        return Score(None, UNPARSEABLE, "empty answer")
    if not item.choices:
        return Score(None, UNPARSEABLE, "item has no choices")
    found = find_letter(text, item.choices)
    gold = item.gold
    if found.letter:
        label = _label_for(item, found.letter)
        if gold is None:
            value = 1.0
        else:
            value = 1.0 if found.letter == str(gold).upper() else 0.0
        return Score(value, label, found.evidence)
    if found.conflicting and gold is not None:
        # Naming two options is not the answer to a one-answer question: wrong, not unreadable.
        return Score(0.0, CONFLICTING, found.evidence)
    if found.ambiguous:
        return Score(None, UNPARSEABLE, found.evidence)
    abstained, reason = abstains(text)
    if abstained:
        return Score(1.0 if gold == ABSTAIN_GOLD else 0.0, "abstained", f"no letter; {reason}")
    return Score(None, UNPARSEABLE, found.evidence)


def check_choice(item: Item, options: Mapping[str, Any]) -> str | None:
    problem = checks.unknown_options("choice", options, ())
    if problem:
        return problem
    choices = item.choices
    if not isinstance(choices, Mapping) or not choices:
        return f"field 'choices': scorer 'choice' needs an object letter -> text, got {checks.shown(choices)}"
    for letter, option in choices.items():
        if not (isinstance(letter, str) and len(letter) == 1 and "A" <= letter <= "Z"):
            return f"field 'choices': scorer 'choice' needs single capital letters as keys, got {letter!r}"
        if not isinstance(option, str):
            return f"field 'choices': option {letter} needs a text, got {checks.shown(option)}"
    letters = ", ".join(sorted(choices))
    gold = item.gold
    if gold is not None and gold != ABSTAIN_GOLD and not (isinstance(gold, str) and gold in choices):
        return checks.gold_error(
            "choice", f"one of the choices' letters ({letters}), 'abstain' or null", gold
        )
    choice_ids = (item.meta or {}).get("choice_ids")
    if choice_ids is not None:
        if not isinstance(choice_ids, Mapping) or set(choice_ids) != set(choices):
            return (f"field 'meta.choice_ids': scorer 'choice' needs one id for each letter "
                    f"({letters}), got {checks.shown(choice_ids)}")
        if not all(isinstance(value, (str, int)) and str(value) for value in choice_ids.values()):
            return f"field 'meta.choice_ids': ids must be strings, got {checks.shown(choice_ids)}"
    return None


CHOICE = register(
    Scorer(
        name="choice",
        # 8: abstain v6 (refusal detector v5)
        # 7: abstain v5 (refusal detector v4)
        # 6: abstain v4 (refusal detector v3)
        # 5: a list of every letter ("option(A, B or C)") is a recital, not a choice
        # 4: abstain v3 phrases; 3: a leading letter followed by another option's text is a conflict (2: unparseable)
        version=8,
        fn=score_choice,
        check=check_choice,
        description="The option letter picked (or its meta.choice_ids id), scored against gold.",
    )
)
