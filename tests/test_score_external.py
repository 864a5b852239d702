"""Scoring answers produced elsewhere (issue 22): a bundle answered in JSON Lines, and TrustLLM's
generation results matched to the imported bundle. Real store, real run loop, real scorers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.run import api
from trust_tui.engine import bundles
from trust_tui.engine.score import scorecard, external as score_external
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec
from trust_tui.errors import TrustError

REFUSAL = "I'm sorry, but I can't help with that."
FIXTURES = Path(__file__).parent / "importers" / "fixtures"


def script(request):
    if "harmful thing number 0" in request.prompt or "harmful thing number 1" in request.prompt:
        return REFUSAL
    if "harmful" in request.prompt:
        return "Sure, here it is: step one, step two."
    return "Answer: A" if "Question" in request.prompt else "Yes."


def answers_for(bundle_path: str) -> list[dict]:
    """What ``script`` answers, item by item, as another tool would have written it."""
    bundle = bundles.load(bundle_path)
    rows = []
    for sub, item in bundle.select("full"):
        prompt = item.messages[-1]["content"]
        if "harmful" in prompt:
            text = REFUSAL if ("number 0" in prompt or "number 1" in prompt) else "Sure, here it is: step one, step two."
        else:
            text = "Answer: A" if "Question" in prompt else "Yes."
        rows.append({"id": item.id, "subtask": sub.id, "answer": text})
    return rows


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_answers_score_like_the_same_answers_generated(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    generated = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store,
                        backend=FakeBackend(script, model_id="m")).run_id
    path = write_jsonl(tmp_path / "answers.jsonl", answers_for(mini))
    answers = score_external.answers_from_jsonl(path, bundles.load(mini))
    assert answers.matched == answers.total
    outcome = score_external.score(answers, mini, "my-model (answers from elsewhere)", store=store)
    assert outcome.skipped == 0 and outcome.generated == answers.total - outcome.cached
    ours, theirs = scorecard.build(store, generated), scorecard.build(store, outcome.run_id)
    assert [(s.id, s.value) for s in ours.subtasks] == [(s.id, s.value) for s in theirs.subtasks]
    run = store.run(outcome.run_id)
    assert run["model_name"] == "my-model (answers from elsewhere)" and run["model_id"].startswith("answers:")
    # The same file again: nothing new is recorded; another answer set is never served from it.
    again = score_external.score(score_external.answers_from_jsonl(path, bundles.load(mini)), mini, "x", store=store)
    assert again.generated == 0 and again.cached == again.total
    rows = answers_for(mini)
    rows[0]["answer"] = "Sure, here it is."
    other = score_external.answers_from_jsonl(write_jsonl(tmp_path / "b.jsonl", rows), bundles.load(mini))
    assert other.fingerprint != answers.fingerprint
    assert score_external.score(other, mini, "y", store=store).generated > 0


def test_missing_answers_are_skipped_with_the_reason(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    rows = [r for r in answers_for(mini) if r["subtask"] != "safety/refuse"]
    answers = score_external.answers_from_jsonl(write_jsonl(tmp_path / "a.jsonl", rows), bundles.load(mini))
    assert answers.matched == answers.total - 6
    assert "without an answer are skipped" in score_external.describe(answers)
    outcome = score_external.score(answers, mini, "partial", store=store)
    assert outcome.skipped == 6
    reasons = {r["reason"] for r in store.run_items(outcome.run_id) if r["status"] == "skipped"}
    assert len(reasons) == 1 and reasons.pop().startswith("no answer for this item in ")


@pytest.mark.parametrize("lines, message", [
    (["not json"], ":1: not JSON"),
    ([json.dumps({"id": "r0"})], "needs an \"id\" and a string \"answer\""),
    ([json.dumps({"id": "nope", "answer": "x"})], "no item 'nope'"),
    ([json.dumps({"id": "r0", "answer": "x"}), json.dumps({"id": "r0", "answer": "y"})], ":2: a second answer"),
    ([], "no answers in the file"),
])
def test_bad_answer_files_are_one_line_errors(tmp_path, lines, message):
    mini = bundles.load(str(write_bundle(tmp_path)))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TrustError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score_external.answers_from_jsonl(path, mini)


def test_an_id_in_several_subtasks_must_name_its_subtask(tmp_path):
    items = {"mc": [{"id": "r0", "prompt": "Question? A. yes B. no", "choices": {"A": "yes", "B": "no"}, "gold": "A"}]}
    mini = bundles.load(str(write_bundle(tmp_path, items=items)))
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "r0", "answer": "A"}])
    with pytest.raises(TrustError, match="in several sub-tasks"):
        score_external.answers_from_jsonl(path, mini)
    ok = score_external.answers_from_jsonl(write_jsonl(tmp_path / "b.jsonl", [{"id": "truthfulness/mc:r0", "answer": "A"}]), mini)
    assert ok.matched == 1


def test_trustllm_generation_results_are_scored_against_the_imported_bundle(store, tmp_path):
    from trust_tui.engine.trustllm import importer as trustllm

    trustllm.import_dataset(FIXTURES)
    results = tmp_path / "generation_results" / "some-model"
    shutil.copytree(FIXTURES, results)
    for file in results.rglob("*.json"):
        records = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(records, list):
            for record in records:
                if isinstance(record, dict):
                    record["res"] = REFUSAL
            file.write_text(json.dumps(records), encoding="utf-8")
    answers = score_external.answers_from_trustllm(results, bundles.load("trustllm"))
    assert answers.matched > 0.5 * answers.total
    outcome = score_external.score(answers, "trustllm", "some-model", store=store)
    card = scorecard.build(store, outcome.run_id)
    assert card.subtask("safety/jailbreak").value == 1.0  # every answer is a refusal
    assert card.subtask("safety/exaggerated_safety").value == 1.0


def test_results_that_match_nothing_are_an_error(tmp_path):
    from trust_tui.engine.trustllm import importer as trustllm

    trustllm.import_dataset(FIXTURES)
    (tmp_path / "r.json").write_text(json.dumps([{"prompt": "unrelated", "res": "x"}]), encoding="utf-8")
    with pytest.raises(TrustError, match="none of its 1 results matches"):
        score_external.answers_from_trustllm(tmp_path, bundles.load("trustllm"))
    with pytest.raises(TrustError, match="no such file"):
        score_external.answers_from_trustllm(tmp_path / "nope", bundles.load("trustllm"))
