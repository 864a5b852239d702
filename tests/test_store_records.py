"""The store's typed records (engine/run/records.py): typed fields, decoded JSON columns, the
read-only Mapping view old callers use, and item_rows in one query."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run import api
from trust_tui.engine.run.loop import RunSpec
from trust_tui.engine.run.records import ItemRow, RunRecord, item_of
from trust_tui.engine.types import Score


def script(request):
    if "harmful" in request.prompt:
        return "I'm sorry, but I can't help with that."
    if "Question" in request.prompt:
        return "Answer: A"
    return "Yes."


@pytest.fixture
def run_id(store, tmp_path):
    outcome = api.run(spec=RunSpec(bundle=str(write_bundle(tmp_path)), profile="full"), store=store,
                      backend=FakeBackend(script))
    return outcome.run_id


def _columns(store, table: str) -> list[str]:
    return [row[1] for row in store.db.execute(f"pragma table_info({table})").fetchall()]


def test_run_record_has_every_runs_column_typed(store, run_id):
    run = store.run(run_id)
    assert isinstance(run, RunRecord)
    assert [f.name for f in dataclasses.fields(RunRecord)] == _columns(store, "runs")
    assert run.id == run_id and run.status == "finished" and run.total == 18
    assert isinstance(run.started, float) and isinstance(run.generated, int)
    assert store.runs()[0] == run and isinstance(store.runs()[0], RunRecord)


def test_run_record_decodes_its_json_columns(store, run_id):
    run = store.run(run_id)
    assert run.snapshots == json.loads(run.subtasks)
    assert [s["id"] for s in run.snapshots] == run.subtask_ids
    assert run.snapshot_by_id["safety/refuse"]["scorer"] == "refusal"
    assert run.scorer_versions["truthfulness/mc"] == ("choice", run.snapshot_by_id["truthfulness/mc"]["scorer_version"])
    assert run.backend_settings == json.loads(run.backend) and run.backend_settings["kind"] == "fake"
    assert run.context_info == json.loads(run.context)
    assert run.spec_info == json.loads(run.spec) and run.spec_info["profile"] == "full"
    assert run.dimension_titles == json.loads(run.dimensions)
    # a row written before a column existed, or built by hand, decodes to an empty value
    bare = RunRecord.of({"id": 1, "status": "finished"})
    assert (bare.snapshots, bare.backend_settings, bare.context_info, bare.spec_info) == ([], {}, {}, {})


def test_records_keep_a_read_only_mapping_view(store, run_id):
    run = store.run(run_id)
    assert run["status"] == run.status and run.get("model_name") == run.model_name
    assert "owner" in run and "no_such_column" not in run
    assert run.get("no_such_column") is None and run.get("no_such_column", 3) == 3
    with pytest.raises(KeyError):
        run["no_such_column"]  # a mistyped key fails instead of reading as None
    with pytest.raises(AttributeError):
        run.no_such_column  # noqa: B018
    assert list(run.keys()) == list(run) == _columns(store, "runs")
    assert dict(run) == run.as_dict() and run == run.as_dict()
    changed = dict(run, status="x", extra=1)  # what judge/overlay.py does with rows
    assert type(changed) is dict and changed["status"] == "x" and changed["extra"] == 1
    assert changed["model_id"] == run.model_id and run.status == "finished"
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        run["status"] = "x"  # type: ignore[index]
    row = next(iter(store.item_rows(run_id)))
    assert dict(row, x=1)["x"] == 1 and dict(row, x=1)["uid"] == row.uid


def test_item_row_typed_fields_and_item(store, run_id):
    rows = list(store.item_rows(run_id))
    assert len(rows) == 18 and all(isinstance(r, ItemRow) for r in rows)
    extra = {"answer", "rendered_prompt", "finish_reason", "completion_tokens", "prompt_tokens", "gen_s",
             "ttft_s", "score_value", "score_label", "score_reason", "scored"}
    assert set(_columns(store, "run_items")) | extra == {f.name for f in dataclasses.fields(ItemRow)}
    row = rows[0]
    assert row.status == "done" and row.scored is True and isinstance(row.answer, str)
    assert row.item_data == json.loads(row.item) and row.item_data["id"] == row.item_id
    assert item_of(row) == item_of(dict(row)) == row.item_data  # a dict rebuilt by a reader too
    assert item_of({"item": None}) == {}


def _old_item_rows(store, run_id):
    """item_rows as it was before it became one query: one score lookup per row."""
    run = store.run(run_id)
    versions = {s["id"]: (s["scorer"], s["scorer_version"]) for s in json.loads(run["subtasks"])}
    out = []
    for row in store.db.query(
        "select ri.*, r.text as answer, r.prompt as rendered_prompt, r.finish_reason, "
        "r.completion_tokens, r.prompt_tokens, r.gen_s, r.ttft_s "
        "from run_items ri left join responses r on r.key = ri.response_key "
        "where ri.run_id = ? order by ri.position", [run_id]
    ):
        scorer, version = versions.get(row["subtask"], (None, None))
        score = None
        if row["status"] == "done" and scorer:
            score = store.score_for(row["response_key"], row["item_hash"], scorer, version)
        row["score_value"] = score["value"] if score else None
        row["score_label"] = score["label"] if score else None
        row["score_reason"] = score["reason"] if score else None
        row["scored"] = score is not None
        out.append(row)
    return out


def test_item_rows_is_one_query_and_equals_the_per_row_lookup(store, run_id):
    rows = list(store.item_rows(run_id))
    done, skipped, pending = rows[0], rows[1], rows[2]
    store.skip_item(run_id, skipped.uid, "prompt too long")
    store.db.execute("update run_items set status = 'pending' where run_id = ? and uid = ?", [run_id, pending.uid])
    # the same answer scored again under another version of its scorer: only the run's version shows
    scorer, version = store.run(run_id).scorer_versions[done.subtask]
    store.save_score(done.response_key, done.item_hash, scorer, version + 1, Score(0.25, "other", "v2"))
    statements = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        rows = list(store.item_rows(run_id))
    finally:
        store.db.conn.set_trace_callback(None)
    queries = [s for s in statements if s.split()[0].lower() in ("select", "with")]  # not SAVEPOINTs
    assert len(queries) == 1  # the run's rows cost one query, not one per row
    assert [r.as_dict() for r in rows] == _old_item_rows(store, run_id)
    by_uid = {r.uid: r for r in rows}
    assert by_uid[done.uid].score_label == done.score_label != "other" and by_uid[done.uid].scored
    assert by_uid[skipped.uid].status == "skipped" and not by_uid[skipped.uid].scored
    assert by_uid[skipped.uid].score_value is None and by_uid[skipped.uid].reason == "prompt too long"
    assert by_uid[pending.uid].status == "pending" and not by_uid[pending.uid].scored
    assert by_uid[pending.uid].answer == pending.answer  # the answer is joined whatever the status
    assert list(store.item_rows("latest")) == rows


def test_item_rows_of_a_missing_run(store):
    from trust_tui.errors import RunNotFound

    with pytest.raises(RunNotFound, match="no run 7"):
        list(store.item_rows(7))


def test_resolve_run_latest_id_and_bad_refs(store):
    from trust_tui.errors import RunNotFound

    with pytest.raises(RunNotFound, match=r"^no runs yet: start one with `trust-tui run`$"):
        store.resolve_run("latest")
    first = store.create_run({"spec_hash": "a", "status": "finished", "subtasks": "[]"})
    second = store.create_run({"spec_hash": "b", "status": "finished", "subtasks": "[]"})
    assert store.resolve_run("latest") == second == store.run("latest").id
    assert store.resolve_run(first) == store.resolve_run(str(first)) == first
    with pytest.raises(RunNotFound, match=r"^no run 99 \(see `trust-tui runs`\)$"):
        store.resolve_run(99)
    with pytest.raises(RunNotFound, match=r"^run id must be a number or 'latest', got 'last'$"):
        store.run("last")


def test_comparison_records_and_their_resolver(store):
    from trust_tui.engine.run.records import ComparisonRecord
    from trust_tui.errors import RunNotFound

    with pytest.raises(RunNotFound, match=r"^no comparisons yet: make one with `trust-tui compare A B`$"):
        store.comparison("latest")
    saved = store.save_comparison([2, 1], False, {"problems": [], "rule": "position 1"}, {"seed": 1},
                                  {"agreement": {}})
    record = store.comparison("latest")
    assert isinstance(record, ComparisonRecord) and record.id == saved and record.reference_run == 2
    assert record.run_id_list == [2, 1] and record.comparability_info["rule"] == "position 1"
    assert record.options_info == {"seed": 1} and record.measurements_info == {"agreement": {}}
    assert store.comparisons() == [record]
    with pytest.raises(RunNotFound, match=r"^no comparison 5 \(see `trust-tui compare`\)$"):
        store.comparison(5)
    with pytest.raises(RunNotFound, match=r"^comparison id must be a number or 'latest', got 'x'$"):
        store.comparison("x")
