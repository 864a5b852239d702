"""The app's small pure helpers: inert text, per-item verdicts, time estimates."""

from __future__ import annotations

import json

from trust_tui.tui import data
from trust_tui.tui.text import clean, safe


def test_control_characters_become_visible_symbols():
    assert clean("\x1b[31mred\x1b[0m") == "␛[31mred␛[0m"
    assert clean("a\r\nb\rc\td\x07\x00\x7f") == "a\nb␍c    d␇␀␡"
    assert clean("\x9b31m \u202eevil") == "�31m �evil"
    assert clean("one\ntwo", single_line=True) == "one ⏎ two"
    assert clean(None) == ""


def test_safe_text_is_never_markup():
    text = safe("[bold red]x[/] [link=http://e]y[/link]", "dim")
    assert text.plain == "[bold red]x[/] [link=http://e]y[/link]"
    assert [str(span.style) for span in text.spans] == ["dim"]
    text.append(" more")
    assert text.spans[0].end == len("[bold red]x[/] [link=http://e]y[/link]")  # style stays put


def _row(uid, value, label="", status="done", scored=True, **item):
    return {"uid": uid, "status": status, "scored": scored, "score_value": value,
            "score_label": label, "item": json.dumps(item)}


def test_verdicts_follow_the_metric():
    rows = [_row("a", 1.0), _row("b", 0.0), _row("c", None), _row("d", None, status="skipped"),
            _row("e", None, status="pending", scored=False)]
    higher = data.verdicts(rows, {"aggregate": "proportion", "direction": "higher"})
    assert higher == {"a": "pass", "b": "fail", "c": "unparseable", "d": "skipped", "e": "pending"}
    lower = data.verdicts(rows[:2], {"aggregate": "proportion", "direction": "lower"})
    assert lower == {"a": "fail", "b": "pass"}
    flips = [_row("p1b", 1, "yes", pair="p1", variant="base"), _row("p1x", 1, "yes", pair="p1", variant="persona"),
             _row("p2b", 1, "yes", pair="p2", variant="base"), _row("p2x", 0, "no", pair="p2", variant="persona")]
    assert data.verdicts(flips, {"aggregate": "pair_flip", "direction": "lower"}) == {
        "p1b": "pass", "p1x": "pass", "p2b": "fail", "p2x": "fail"}
    pairs = [_row("x1", 1, "A", pair="q"), _row("x2", 1, "B", pair="q")]
    assert data.verdicts(pairs, {"aggregate": "pair_consistency"}) == {"x1": "fail", "x2": "fail"}
    assert data.verdicts([_row("r", 3.0)], {"aggregate": "pearson"}) == {"r": "scored"}


def test_estimate_from_past_throughput(tmp_path):
    from trust_tui.engine.run.store import Store

    class Sub:
        class generation:  # noqa: N801 - stands in for GenSettings
            max_tokens = 40

    workload = [(Sub, None)] * 10
    store = Store(tmp_path / "t.db")
    try:
        assert data.estimate(store, None, workload).seconds is None
        base = {"spec_hash": "h", "spec": "{}", "model_path": "", "model_name": "m", "bundle": "b",
                "bundle_version": "1", "bundle_hash": "x", "profile": "quick", "dimensions": "{}",
                "subtasks": "[]", "backend": "{}", "context": "{}", "template_source": "gguf",
                "template_warning": "", "comparability_hash": "c", "status": "finished",
                "started": 0.0, "total": 10, "cached": 0, "skipped": 0, "tokens_prompt": 0}
        # batched decoding: per-sequence seconds overlap, so the wall time bounds them
        store.create_run(dict(base, model_id="m1", generated=10, tokens_generated=200,
                              gen_seconds=40.0, wall_seconds=10.0))
        guess = data.estimate(store, "m1", workload)
        assert guess.items == 10 and round(guess.seconds, 3) == 10.0  # 20 tok/item at 20 tok/s
        assert "20 tok/s over 1 past run of this model" == guess.basis
        other = data.estimate(store, "unknown-model", workload)
        assert "other models" in other.basis
    finally:
        store.close()


def test_durations_and_paths():
    assert [data.duration(s) for s in (None, 5, 65, 3725)] == ["–", "5s", "1m05s", "1h02m"]
    assert data.percent(0.7777) == "77.8%" and data.percent(None) == "–"
