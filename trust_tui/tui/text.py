"""Model output as inert text.

Answers, prompts and file names come from outside: they are shown through rich ``Text`` objects
(never parsed as markup), and control characters are replaced by visible symbols, so an escape
sequence, a bell or a carriage return in an answer cannot move the cursor or restyle the screen.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls except \n and \t, DEL, and the C1 range (0x80-0x9f; 0x9b is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides and isolates can reorder what is on screen.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400 Control Pictures: ␛ ␇ ␍ …
    if code == 0x7F:
        return "␡"
    return "�"


def clean(value: object, *, single_line: bool = False) -> str:
    """A plain string with every control character made visible."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    text = _CONTROL.sub(_picture, text)
    text = _BIDI.sub("�", text)
    if single_line:
        text = text.replace("\n", " ⏎ ")
    return text


def safe(value: object, style: str = "", *, single_line: bool = False) -> Text:
    """A rich Text that renders ``value`` literally (no markup, no escapes)."""
    text = Text(clean(value, single_line=single_line), no_wrap=single_line,
                overflow="ellipsis" if single_line else "fold")
    if style:
        text.stylize(style)  # a span, so text appended later keeps its own style
    return text


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
