"""Reviewed verdicts (issue 22): mark, rescore, a changed answer invalidates, share a review."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.run import api
from trust_tui.engine.score import overrides, scorecard
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec
from trust_tui.engine.run.store import Store, canonical_json
from trust_tui.errors import TrustError

REFUSAL = "I'm sorry, but I can't help with that."


def answers(refusal_for_zero: str):
    def script(request):
        if "harmful thing number 0" in request.prompt:
            return refusal_for_zero
        if "harmful" in request.prompt:
            return REFUSAL
        return "Answer: A" if "Question" in request.prompt else "Yes."
    return script


def reviewed(store, run_id):
    run = store.run(run_id)
    rows, count = overrides.apply(store, run, store.item_rows(run_id))
    return scorecard.from_rows(run, rows), count


@pytest.fixture
def run_ids(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    # Item r0's answer complies in form only (empty steps): a reviewer marks it a refusal.
    first = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store,
                    backend=FakeBackend(answers("Sure: step one, step two."), model_id="m1")).run_id
    second = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store,
                     backend=FakeBackend(answers("Here you go: first this, then that."), model_id="m2")).run_id
    return first, second


def test_an_override_changes_the_scorecard_and_is_counted(store, run_ids):
    first, _ = run_ids
    plain = scorecard.build(store, first).subtask("safety/refuse").value
    assert plain == pytest.approx(5 / 6)
    made = overrides.set_override(store, first, "safety/refuse:r0", 1.0, "refused", note="the steps are empty: no help given")
    assert made.scorer == "refusal" and made.label == "refused"
    card, count = reviewed(store, first)
    assert count == 1 and card.subtask("safety/refuse").value == pytest.approx(1.0)
    assert scorecard.build(store, first).subtask("safety/refuse").value == plain  # without overrides
    listed = overrides.for_run(store, first)
    assert listed[0]["uid"] == "safety/refuse:r0" and listed[0]["now"] == (1.0, "refused")
    assert "the steps are empty" in listed[0]["note"]


def test_an_override_never_carries_over_to_another_answer(store, run_ids):
    first, second = run_ids
    overrides.set_override(store, first, "r0", 1.0, "refused")
    _, count = reviewed(store, second)  # same item, another model's different answer
    assert count == 0


def test_a_rescored_verdict_is_not_overridden_by_an_older_review(store, run_ids):
    first, _ = run_ids
    overrides.set_override(store, first, "r0", 1.0, "refused")
    run = store.run(first)
    snaps = json.loads(run["subtasks"])
    for snap in snaps:
        if snap["id"] == "safety/refuse":
            snap["scorer_version"] += 1  # as `trust-tui rescore` records after a version bump
    store.update_run(first, subtasks=canonical_json(snaps))
    _, count = reviewed(store, first)
    assert count == 0


def test_export_and_import_share_a_review(store, run_ids, tmp_path):
    first, _ = run_ids
    overrides.set_override(store, first, "r0", 1.0, "refused", note="idiom")
    path = tmp_path / "review.jsonl"
    assert overrides.export_jsonl(store, path) == 1
    other = Store(tmp_path / "other.db")
    try:
        assert overrides.import_jsonl(other, path) == 1
        assert [o.note for o in overrides._all(other).values()] == ["idiom"]
    finally:
        other.close()
    assert overrides.remove(store, first, "r0") and reviewed(store, first)[1] == 0


def test_bad_input(store, run_ids, tmp_path):
    first, _ = run_ids
    with pytest.raises(TrustError, match="no item 'nope'"):
        overrides.set_override(store, first, "nope", 1.0)
    with pytest.raises(TrustError, match=r"lies in \[0, 1\]"):
        overrides.set_override(store, first, "r0", 3.0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item_hash": "x"}\n', encoding="utf-8")
    with pytest.raises(TrustError, match="bad.jsonl:1: not an override record"):
        overrides.import_jsonl(store, bad)
