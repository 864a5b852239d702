"""Text helpers shared by the scorers: cleaning model output, folding case and accents,
whole-word phrase search, negation windows, number words, and short evidence quotes.

Every function here is total on ``str`` (and tolerates ``None``): scorers must never raise on
what a model writes, so nothing in this module does either. The regular expressions avoid
nested quantifiers so that a pathological answer costs linear time.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from typing import Iterator

# --------------------------------------------------------------------------- cleaning

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
)
# Chat-template leftovers (<|im_end|>, <end_of_turn>) and HTML tags carry no answer, but a model
# that echoes them would otherwise split words or hide a letter ("<b>B</b>").
_TAGS = re.compile(r"<\|?/?[A-Za-z_][^<>\n]{0,80}>")
# Autolinks are not tags: "Karen Arnold <klarnold@flash.net>" (how mail headers write a contact)
# and "<https://example.org>" keep their content, or a disclosed address would vanish.
_AUTOLINK = re.compile(r"<((?:[A-Za-z][A-Za-z0-9+.-]{0,20}:)?[^\s<>@|]{1,200}@[^\s<>@|]{1,200}"
                       r"|[A-Za-z][A-Za-z0-9+.-]{0,20}://[^\s<>]{1,400})>")
_MARKDOWN_EMPHASIS = re.compile(r"\*\*|__|`+|~~")
_HEADING = re.compile(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+")
_SPACES = re.compile(r"[ \t\f\v]+")

_PUNCTUATION_TRANSLATION = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ",
        "\r": "\n",
    }
)


# Answers are read up to this many characters: far more than any bundle's max_tokens produces,
# and a bound that keeps every scorer fast on a pathological input.
MAX_ANSWER_CHARS = 20_000


def clean(text: object) -> str:
    """Model output as plain text: no ANSI escapes, control characters, chat-template or HTML
    tags (an ``<address@host>`` or ``<https://...>`` autolink keeps its content), Markdown
    emphasis or headings; curly quotes and dashes made ASCII; spaces collapsed; cut
    at ``MAX_ANSWER_CHARS``.

    Case and accents are kept (letters like "A" vs the article "a" need case)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[:MAX_ANSWER_CHARS]
    text = _ANSI.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION_TRANSLATION)
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    )
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAGS.sub(" ", text)
    text = _MARKDOWN_EMPHASIS.sub("", text)
    text = _HEADING.sub("", text)
    text = _SPACES.sub(" ", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: object) -> str:
    """``clean`` + casefold + accents removed: the form phrase lists are matched against."""
    return strip_accents(clean(text).casefold())


def quote(text: str, limit: int = 60) -> str:
    """A short one-line excerpt for a ``Score.reason``."""
    one_line = " ".join(text.split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1].rstrip() + "\u2026"
    return f'"{one_line}"'


# --------------------------------------------------------------------------- phrases and words

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


@lru_cache(maxsize=4096)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A regex matching ``phrase`` as whole words, any run of spaces between its words.

    Boundaries are looked at only where the phrase itself starts or ends with a word character,
    so "(b)" or "anti-stereotype" work as phrases too."""
    words = phrase.split()
    body = r"\s+".join(re.escape(word) for word in words) if words else re.escape(phrase)
    start = r"(?<![^\W_])" if phrase[:1].isalnum() else ""
    end = r"(?![^\W_])" if phrase[-1:].isalnum() else ""
    return re.compile(start + body + end)


def find_phrase(text: str, phrase: str) -> Iterator[re.Match[str]]:
    return phrase_pattern(phrase).finditer(text)


NEGATORS = frozenset(
    "not no never neither nor cannot can't won't don't doesn't didn't isn't aren't wasn't "
    "weren't shouldn't wouldn't couldn't hardly".split()
)

# A negation only reaches forward inside its clause: "No, it is wrong" is not "not wrong".
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n()]|\bbut\b|\bhowever\b|\bthough\b")


def negation_before(text: str, position: int, window: int = 4) -> str | None:
    """The negator among the ``window`` words before ``position`` in the same clause, if any.

    ``text`` must be folded (lower case)."""
    start = max(0, position - 120)
    before = text[start:position]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end():]
    words = WORD.findall(before)[-window:]
    for index in range(len(words) - 1, -1, -1):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        if following in _INTENSIFIERS:  # "not only wrong but ..." intensifies, it does not negate
            continue
        if word in NEGATORS or word.endswith("n't"):
            return word
    return None


_INTENSIFIERS = frozenset({"only", "just", "merely", "simply"})


_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n")


@lru_cache(maxsize=16)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each sentence; a sentence ends at . ! ? before a space, or a newline.

    Cached: scorers ask for the sentence around many positions of the same answer."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if text[start: match.end()].strip():
            spans.append((start, match.end()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return tuple(spans)


@lru_cache(maxsize=16)
def _sentence_starts(text: str) -> tuple[int, ...]:
    return tuple(start for start, _ in sentence_spans(text))


def sentence_around(text: str, position: int) -> tuple[int, int]:
    spans = sentence_spans(text)
    index = bisect_right(_sentence_starts(text), position) - 1
    if 0 <= index < len(spans) and spans[index][0] <= position < spans[index][1]:
        return spans[index]
    return 0, len(text)


# A phrase inside a conditional or a question is not the model asserting it:
# "If I can't help you, who will?", "What if nobody knows?".
_CONDITIONAL_BEFORE = re.compile(r"\b(?:if|unless|whether|when)\s+(?:\w+\s+){0,2}$")


def in_question_or_condition(folded: str, position: int) -> bool:
    sentence_start, sentence_end = sentence_around(folded, position)
    last = sentence_end - 1
    while last > sentence_start and folded[last].isspace():
        last -= 1
    if folded[last: last + 1] == "?":
        return True
    return bool(_CONDITIONAL_BEFORE.search(folded[max(sentence_start, position - 40): position]))


# --------------------------------------------------------------------------- numbers

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
NUMBER_WORDS = {**UNITS, **TENS, **SCALES, "dozen": 12}

_NUMBER_WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
# A run of number words, joined by spaces, hyphens or "and" ("one hundred and twenty-three").
# "a hundred" counts as 100, but a lone "a" never starts a number.
_NUMBER_RUN = re.compile(
    rf"\b(?:a\s+(?=(?:hundred|thousand|million|billion|dozen)\b))?"
    rf"(?:{_NUMBER_WORD})(?:(?:\s+and\s+|\s+|-)(?:{_NUMBER_WORD}))*\b"
)
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def words_to_number(words: list[str]) -> int | None:
    """Value of number words like ["one", "hundred", "twenty", "three"], or None if the
    sequence is not one number ("two three")."""
    total = current = 0
    last_small: int | None = None  # guards "two three" / "twenty thirty"
    seen = False
    for word in words:
        if word == "a":
            current = 1
            continue
        if word == "dozen":
            current = (current or 1) * 12
            last_small = None
            seen = True
            continue
        if word in UNITS or word in TENS:
            value = UNITS.get(word, TENS.get(word, 0))
            if last_small is not None and not (last_small >= 20 and last_small % 10 == 0 and value < 10):
                return None
            current += value
            last_small = value if value < 100 else None
            seen = True
        elif word in SCALES:
            scale = SCALES[word]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale
                current = 0
            last_small = None
            seen = True
    return total + current if seen else None


def number_words_to_digits(text: str) -> str:
    """Replace runs of English number words in folded text by digits; runs that do not read as
    one number ("two three") are left alone."""

    def replace(match: re.Match[str]) -> str:
        words = [w for w in re.split(r"[\s-]+", match.group(0)) if w and w != "and"]
        value = words_to_number(words)
        return match.group(0) if value is None else str(value)

    return _NUMBER_RUN.sub(replace, text)


def drop_thousands_commas(text: str) -> str:
    """ "1,000,000" -> "1000000" (a comma between digit groups, not "1, 2")."""
    return _THOUSANDS_COMMA.sub("", text)


# --------------------------------------------------------------------------- short answers

ARTICLES = frozenset({"a", "an", "the"})
_TOKEN = re.compile(r"[^\W_]+(?:\.\d+)*")
_TOKEN_OR_SEPARATOR = re.compile(r"[^\W_]+(?:\.\d+)*|[,;/]")
_POSSESSIVE = re.compile(r"'s\b")
_ABBREVIATION = re.compile(r"\b(?:[a-z]\.){2,}")  # "u.k." -> "uk", "u.s.a." -> "usa"


def answer_tokens(text: object, keep_separators: bool = False) -> list[str]:
    """Tokens of a short answer for comparison: folded, number words as digits, "1,000" as
    "1000", "U.K." as "uk", possessive 's, punctuation and the articles a/an/the dropped;
    decimals stay whole.

    ``keep_separators`` keeps , ; / as tokens, to see lists ("Paris, London or Rome")."""
    folded = number_words_to_digits(drop_thousands_commas(fold(text)))
    folded = _ABBREVIATION.sub(lambda match: match.group(0).replace(".", ""), folded)
    folded = _POSSESSIVE.sub("", folded).replace("'", "")
    pattern = _TOKEN_OR_SEPARATOR if keep_separators else _TOKEN
    return [token for token in pattern.findall(folded) if token not in ARTICLES]


def find_token_span(haystack: list[str], needle: list[str]) -> list[int]:
    """Start indexes where ``needle`` occurs as a contiguous run of ``haystack``."""
    if not needle or len(needle) > len(haystack):
        return []
    width = len(needle)
    first = needle[0]
    return [
        i for i in range(len(haystack) - width + 1)
        if haystack[i] == first and haystack[i: i + width] == needle
    ]
