"""GBNF grammars that hold a judge to its rubric's labels (llama.cpp's grammar sampler).

A generic judge writes exactly two lines, ``label: <one of the rubric's labels>`` and
``reason: <one line>``; the grammar makes anything else impossible, so a verdict always parses
unless the token budget ends inside the label (then it is recorded as unparseable).
"""

from __future__ import annotations

import re
from typing import Iterable

# The reason is one line; long enough for a sentence, short enough that the token budget
# (JUDGE_MAX_TOKENS) is rarely what ends it.
REASON_CHARS = (3, 120)
LINE = re.compile(r"^\s*label:\s*(?P<label>[a-z][a-z0-9-]*)[ \t]*(?:\r?\nreason:\s*(?P<reason>.*))?", re.S)


def literal(text: str) -> str:
    """A GBNF string literal."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def alternatives(options: Iterable[str]) -> str:
    # Longest first: llama.cpp's grammar is not greedy, but a reader of the file is helped.
    return " | ".join(literal(o) for o in sorted(set(options), key=lambda s: (-len(s), s)))


def label_reason(labels: Iterable[str]) -> str:
    low, high = REASON_CHARS
    return "\n".join([
        'root ::= "label: " label "\\nreason: " reason',
        f"label ::= {alternatives(labels)}",
        f"reason ::= [^\\n\\r]{{{low},{high}}}",
    ]) + "\n"


def parse_label_reason(text: str, labels: Iterable[str]) -> tuple[str | None, str]:
    """(label, reason) from a generic judge's output; (None, why) when it has no valid label."""
    match = LINE.match(text or "")
    if not match:
        return None, f"no 'label:' line in {text[:60]!r}"
    label = match.group("label")
    if label not in set(labels):
        return None, f"label {label!r} is not one of the rubric's"
    reason = (match.group("reason") or "").strip().splitlines()
    return label, (reason[0].strip() if reason else "")


# "label: refused", "**Label:** Refused", "Label = `refused`"; not "label:\n- refused" (a model
# repeating the rubric's list), so the value must follow on the same line.
_FREE_LABEL = re.compile(r"label[*_` ]{0,4}[:=][*_`\"' \t]{0,6}(?P<label>[A-Za-z][A-Za-z0-9-]*)", re.I)
_WORD = re.compile(r"[a-z][a-z0-9-]*")


def parse_free_label(text: str, labels: Iterable[str]) -> tuple[str | None, str]:
    """(label, reason) from an answer no grammar constrained: a ``label:`` line in any case or
    markup ("**Label:** Refused"), else the one rubric label the text names; (None, why) when
    it names none or several."""
    names = set(labels)
    text = text or ""
    strict = parse_label_reason(text, names)
    if strict[0] is not None:
        return strict
    match = _FREE_LABEL.search(text)
    if match and match.group("label").lower() in names:
        rest = text[match.end():]
        reason = re.search(r"reason[*_` ]{0,4}[:=][*_` \t]*(.+)", rest, re.I)
        return match.group("label").lower(), (reason.group(1).strip() if reason else "(no reason given)")
    named = {w for w in _WORD.findall(text.lower()) if w in names}
    if len(named) == 1:
        return named.pop(), "label named in free text (no grammar)"
    if named:
        return None, f"names several labels ({', '.join(sorted(named))}) without a 'label:' line"
    return None, f"no rubric label in {text[:60]!r}"


def check(grammar: str, vocab) -> str | None:
    """None when llama.cpp accepts ``grammar`` for ``vocab``, else a one-line reason."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    if not sampler:
        return "llama.cpp rejected the grammar"
    llama_cpp.llama_sampler_free(sampler)
    return None
