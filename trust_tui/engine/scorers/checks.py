"""Load-time validation helpers shared by the scorers' ``check`` functions.

Messages name the field or option, the scorer and what it got, in the shape the bundle loader
prefixes with ``file:line``: "field 'gold': scorer 'choice' needs ..., got 'E'".
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def unknown_options(scorer: str, options: Mapping[str, Any], allowed: Iterable[str]) -> str | None:
    """An error naming the first option key ``scorer`` does not take, if any."""
    allowed = sorted(allowed)
    for key in sorted(map(str, options)):
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no options"
            return f"option '{key}': scorer '{scorer}' does not take it (takes: {takes})"
    return None


def gold_error(scorer: str, needs: str, gold: Any) -> str:
    return f"field 'gold': scorer '{scorer}' needs {needs}, got {shown(gold)}"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
