"""The run loop on a real SQLite store with the scripted backend: cache, resume, skip, fail."""

import threading

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.run import api
from trust_tui.engine.score import scorecard
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import ItemFinished, RunPlanned, RunSpec, rescore
from trust_tui.engine.scorers import base as scorer_registry
from trust_tui.engine.types import ErrorEvent, Score
from trust_tui.errors import BackendError, Cancelled


def script(request):
    if "harmful" in request.prompt:
        return "I'm sorry, but I can't help with that."
    if "Question" in request.prompt:
        return "Answer: A"
    if "I think not" in request.prompt:
        return "No."
    return "Yes."


@pytest.fixture
def mini(tmp_path):
    return str(write_bundle(tmp_path))


def run(store, mini, backend=None, profile="full", listener=None, cancel=None, **spec):
    return api.run(spec=RunSpec(bundle=mini, profile=profile, **spec), store=store,
                   backend=backend or FakeBackend(script), listener=listener, cancel=cancel)


def test_second_identical_run_generates_nothing(store, mini):
    first = run(store, mini)
    assert (first.generated, first.cached, first.skipped) == (18, 0, 0)
    backend = FakeBackend(script)
    second = run(store, mini, backend)
    assert (second.generated, second.cached) == (0, 18)
    assert backend.generated == []
    assert second.summary_line() == "generated 0 · cached 18 · skipped 0"
    assert second.run_id != first.run_id  # a finished run is history; the next is a new run


def test_scorecard_from_the_store(store, mini):
    outcome = run(store, mini)
    card = scorecard.build(store, outcome.run_id)
    refuse = card.subtask("safety/refuse")
    assert refuse.value == 1.0 and refuse.n == 6 and refuse.ci[0] > 0.5
    mc = card.subtask("truthfulness/mc")
    assert mc.value == pytest.approx(0.5)  # always "A"; gold alternates
    flip = card.subtask("truthfulness/flip")
    assert flip.unit == "pairs" and flip.n == 3
    assert flip.value == pytest.approx(1.0)  # base says Yes, persona says No: every pair flips
    assert [d.id for d in card.dimensions] == ["truthfulness", "safety"]


def test_cancel_then_resume_generates_only_what_is_missing(store, mini):
    cancel = threading.Event()
    done = []

    def listener(event):
        if isinstance(event, ItemFinished) and event.status == "done":
            done.append(event.uid)
            if len(done) == 5:
                cancel.set()

    with pytest.raises(Cancelled, match="again to resume"):
        run(store, mini, listener=listener, cancel=cancel)
    first = store.runs()[0]
    assert first["status"] == "cancelled"
    backend = FakeBackend(script)
    events = []
    outcome = run(store, mini, backend, listener=events.append)
    planned = next(e for e in events if isinstance(e, RunPlanned))
    assert planned.resumed and planned.already_done == 5
    assert outcome.run_id == first["id"]
    assert len(backend.generated) == 13
    assert store.run(outcome.run_id)["status"] == "finished"


def test_keyboard_interrupt_mid_run_keeps_finished_items(store, mini):
    class Interrupting(FakeBackend):
        def generate(self, requests, cancel):
            for index, event in enumerate(super().generate(requests, cancel)):
                if index == 12:
                    raise KeyboardInterrupt
                yield event

    with pytest.raises(Cancelled):
        run(store, mini, Interrupting(script))
    finished = [r for r in store.run_items(store.runs()[0]["id"]) if r["status"] == "done"]
    assert 0 < len(finished) < 18
    backend = FakeBackend(script)
    run(store, mini, backend)
    assert len(backend.generated) == 18 - len(finished)


def test_prompt_longer_than_context_is_skipped_with_reason(store, tmp_path):
    long_prompt = "word " * 200
    directory = write_bundle(tmp_path, items={"refuse": [
        {"id": "long", "prompt": long_prompt}, {"id": "short", "prompt": "harmful"}]})
    outcome = run(store, str(directory), FakeBackend(script, n_ctx=100))
    assert outcome.skipped == 1
    rows = {r["item_id"]: r for r in store.run_items(outcome.run_id)}
    assert rows["long"]["status"] == "skipped"
    assert "exceeds the context of 100 tokens" in rows["long"]["reason"]
    card = scorecard.build(store, outcome.run_id)
    assert card.subtask("safety/refuse").skipped == 1


def test_backend_skip_event_records_the_reason(store, mini):
    backend = FakeBackend(script, fail_on=lambda r: "server said no" if "number 3" in r.prompt else None)
    outcome = run(store, mini, backend)
    assert outcome.skipped == 1 and outcome.generated == 17


def test_fatal_backend_error_fails_the_run_but_keeps_answers(store, mini):
    class Dying(FakeBackend):
        def generate(self, requests, cancel):
            for index, event in enumerate(super().generate(requests, cancel)):
                if index == 20:
                    yield ErrorEvent(event.request_id, "out of memory", skip=False)
                    return
                yield event

    with pytest.raises(BackendError, match="out of memory"):
        run(store, mini, Dying(script))
    row = store.runs()[0]
    assert row["status"] == "failed" and row["error"] == "out of memory"
    assert row["generated"] > 0


def test_identical_prompts_are_generated_once(store, tmp_path):
    directory = write_bundle(tmp_path, items={"refuse": [
        {"id": "a", "prompt": "same harmful"}, {"id": "b", "prompt": "same harmful"}]})
    backend = FakeBackend(script)
    outcome = run(store, str(directory), backend)
    assert outcome.total == 14  # 2 + 6 + 6
    assert outcome.generated == 13 and outcome.cached == 1
    assert len(backend.generated) == 13


def test_changing_a_sampler_setting_generates_again(store, mini):
    run(store, mini)
    backend = FakeBackend(script)
    outcome = run(store, mini, backend, generation={"temperature": 0.7})
    assert outcome.generated == 18


def test_scorer_crash_does_not_lose_the_run(store, mini, monkeypatch):
    original = scorer_registry.get("choice")

    def boom(item, text, options):
        raise RuntimeError("bug")

    monkeypatch.setitem(scorer_registry._REGISTRY, "choice",
                        scorer_registry.Scorer("choice", original.version, boom, original.check))
    outcome = run(store, mini)
    card = scorecard.build(store, outcome.run_id)
    assert card.subtask("truthfulness/mc").unparseable == 6


def test_rescore_uses_cached_answers_and_generates_nothing(store, mini, monkeypatch):
    outcome = run(store, mini)
    original = scorer_registry.get("refusal")
    monkeypatch.setitem(scorer_registry._REGISTRY, "refusal", scorer_registry.Scorer(
        "refusal", original.version + 1, lambda item, text, options: Score(0.0, "complied", "v2"),
        original.check))
    changed, unchanged = rescore(store, outcome.run_id)
    assert changed == 6 and unchanged == 12
    assert scorecard.build(store, outcome.run_id).subtask("safety/refuse").value == 0.0


def test_dimension_filter_and_unknown_dimension(store, mini):
    outcome = run(store, mini, dimensions=("safety",))
    assert outcome.total == 6
    from trust_tui.errors import BundleError

    with pytest.raises(BundleError, match="no dimension privacy"):
        run(store, mini, dimensions=("privacy",))


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_running_row_whose_process_is_gone_reads_as_interrupted(store):
    import socket

    from trust_tui.engine.run.store import run_owner

    def make(owner):
        run_id = store.create_run({"spec_hash": "x", "status": "running", "owner": owner,
                                   "total": 3, "generated": 0, "cached": 0, "skipped": 0})
        store.add_run_items(run_id, [
            {"uid": f"u{i}", "subtask": "s/t", "item_id": f"i{i}", "position": i, "item": "{}",
             "item_hash": "h", "response_key": f"k{i}", "status": status, "reason": None,
             "cached": cached}
            for i, (status, cached) in enumerate([("done", 0), ("done", 1), ("pending", 0)])])
        return run_id

    gone = make(f"{socket.gethostname()}:{_dead_pid()}")
    alive = make(run_owner())
    elsewhere = make("another-host:1")
    legacy = make(None)
    row = store.run(gone)
    assert (row["status"], row["generated"], row["cached"], row["skipped"]) == ("interrupted", 1, 1, 0)
    assert {r["id"]: r["status"] for r in store.runs()} == {
        gone: "interrupted", alive: "running", elsewhere: "running", legacy: "running"}
    assert store.find_resumable("x")["id"] == legacy  # still resumable: only the display changes
