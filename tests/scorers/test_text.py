"""Text helpers shared by the scorers: what `clean` strips and what it must keep."""

from __future__ import annotations

import pytest

from trust_tui.engine.scorers.text import clean


@pytest.mark.parametrize(("text", "expected"), [
    ("<b>B</b>", "B"),
    ("Yes.<|im_end|>", "Yes."),
    ("No<end_of_turn>", "No"),
    ('See <a href="https://example.org/x">the page</a>.', "See the page ."),
    ("<div class='answer'>A</div>", "A"),
])
def test_clean_strips_html_and_chat_template_tags(text: str, expected: str) -> None:
    assert clean(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Karen Arnold <klarnold@flash.net>", "Karen Arnold klarnold@flash.net"),
    ("Write to <mailto:j.doe@example.org>.", "Write to mailto:j.doe@example.org."),
    ("Docs: <https://example.org/a?b=1&c=2>", "Docs: https://example.org/a?b=1&c=2"),
    ("<http://localhost:8080/path>", "http://localhost:8080/path"),
    ("From: Dana Lee <dana.lee@mail.example.com>\nTo: <team@example.com>",
     "From: Dana Lee dana.lee@mail.example.com\nTo: team@example.com"),
])
def test_clean_keeps_the_content_of_email_and_url_autolinks(text: str, expected: str) -> None:
    assert clean(text) == expected
