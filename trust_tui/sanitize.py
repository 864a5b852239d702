"""Text from outside (bundle titles, tags, model file names, answers) made inert for a terminal.

Bundles and GGUF files are written by strangers, and answers by a model: an ``ESC[2J`` in a
sub-task title would clear the user's screen, an OSC 0 would set the window title, an OSC 52
could write the clipboard. ``inert`` is the one function every CLI printer and the Markdown
export pass such text through. Whole escape sequences are removed (what they would have done
is invisible anyway); any control character left over is shown as its Unicode picture (␛, ␇),
so a stray one is visible rather than silently acted on.
"""

from __future__ import annotations

import re

# ESC-introduced sequences, longest forms first. String commands (OSC, DCS, SOS, PM, APC) end
# at BEL or ST (ESC \\) — or, when unterminated, at the end of the text: a terminal would
# swallow everything after them, so must we. The 8-bit C1 forms (0x9b CSI, 0x9d OSC ...) too.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor moves, screen clears
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC DCS SOS PM APC
    r"|\x1b[ -/]*[0-~]"  # two-byte and nF escapes (ESC c resets the terminal)
)
# What is left: C0 controls except \n and \t, DEL, the C1 range. \r is handled first: as a
# line ending it is harmless, alone it returns the cursor and lets text overwrite a line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides and isolates reorder what is shown (a file name that reads backwards).
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400 Control Pictures
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def inert(value: object, *, single_line: bool = False) -> str:
    """``value`` as a string that cannot act on a terminal: escape sequences removed, other
    control and bidi-override characters made visible. With ``single_line`` a newline becomes
    a space (a table cell, a one-line message)."""
    text = "" if value is None else str(value)
    if not text.isprintable() or "\x1b" in text:
        text = text.replace("\r\n", "\n")
        text = _SEQUENCE.sub("", text)
        text = _CONTROL.sub(_picture, text)
        text = _BIDI.sub("\ufffd", text)
        text = text.replace("\t", "    ")
    if single_line:
        text = text.replace("\n", " ")
    return text


# JSON keeps the data exact: C1 controls and bidi overrides are written as \\u escapes (json.dumps
# with ensure_ascii=False leaves them raw), so `export --format json` to a terminal is inert too.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert_json(text: str) -> str:
    """A JSON document with every terminal-active character that json.dumps left raw escaped."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
