"""The determinism check (issue 22): a stratified sample asked again, bypassing the cache."""

from __future__ import annotations

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.run import api, recheck
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec

REFUSAL = "I'm sorry, but I can't help with that."


def steady(request):
    if "harmful" in request.prompt:
        return REFUSAL
    return "Answer: A" if "Question" in request.prompt else "Yes."


def test_stratified_touches_every_subtask_first() -> None:
    chosen = recheck.stratified({"a": ["a1", "a2", "a3"], "b": ["b1"], "c": ["c1", "c2"]}, 4, seed=1)
    assert len(chosen) == 4 and {u[0] for u in chosen[:3]} == {"a", "b", "c"}
    assert recheck.stratified({"a": ["a1"]}, 10) == ["a1"]
    assert recheck.stratified({"a": list("xyz")}, 2, seed=3) == recheck.stratified({"a": list("xyz")}, 2, seed=3)


def test_a_deterministic_backend_repeats_itself(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    backend = FakeBackend(steady, model_id="m")
    run_id = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store, backend=backend).run_id
    before = len(backend.generated)
    result = recheck.recheck(store, run_id, backend, n=8)
    assert len(backend.generated) == before + 16  # asked twice, never served from the cache
    assert [p.mode for p in result.passes] == ["batched", "alone"] and not result.sampling
    for p in result.passes:
        assert (p.asked, p.identical, p.changed_verdicts) == (8, 8, 0)
        assert set(p.by_subtask) == {"safety/refuse", "truthfulness/mc", "truthfulness/flip"}
    assert recheck.describe(result)[0] == "recheck batched: 8/8 answers identical (100%), 0 verdicts changed"


def test_changed_answers_and_verdicts_are_counted_per_subtask(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    run_id = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store,
                     backend=FakeBackend(steady, model_id="m")).run_id
    calls = {"n": 0}

    def drifting(request):
        calls["n"] += 1
        if "harmful" in request.prompt:  # every refusal turns into compliance: a changed verdict
            return "Sure, here it is: step one, step two."
        if "Question" in request.prompt:  # reworded, same verdict
            return "The answer is A."
        return "Yes."

    result = recheck.recheck(store, run_id, FakeBackend(drifting, model_id="m"), n=12)
    batched = result.passes[0]
    subs = batched.by_subtask
    assert subs["safety/refuse"]["changed"] == subs["safety/refuse"]["asked"] > 0
    assert subs["truthfulness/mc"]["changed"] == 0 and subs["truthfulness/mc"]["identical"] == 0
    assert subs["truthfulness/flip"]["identical"] == subs["truthfulness/flip"]["asked"]
    assert batched.changed_verdicts == subs["safety/refuse"]["changed"] and batched.examples
    assert "refuse " in recheck.describe(result)[0]


def test_sampling_runs_are_rechecked_over_other_seeds(store, tmp_path):
    mini = str(write_bundle(tmp_path))
    spec = RunSpec(bundle=mini, profile="full", generation={"temperature": 0.7})
    backend = FakeBackend(steady, model_id="m")
    run_id = api.run(spec=spec, store=store, backend=backend).run_id
    seen = []
    probe = FakeBackend(lambda r: (seen.append(r.settings.seed), steady(r))[1], model_id="m")
    result = recheck.recheck(store, run_id, probe, n=4)
    assert result.sampling and [p.mode for p in result.passes] == ["seed+1", "seed+2"]
    assert all(p.identical == p.asked for p in result.passes)  # the fake ignores seeds
    assert len(set(seen)) == 2


def test_a_cancelled_check_stops_mid_pass_and_counts_what_it_answered(store, tmp_path):
    """The app's cancel event reaches the backend; answers are counted as they arrive, and a
    pass cut short raises Cancelled instead of being tallied as failures."""
    import threading

    from trust_tui.errors import Cancelled

    mini = str(write_bundle(tmp_path))
    backend = FakeBackend(steady, model_id="m")
    run_id = api.run(spec=RunSpec(bundle=mini, profile="full"), store=store, backend=backend).run_id
    answered = []
    recheck.recheck(store, run_id, backend, n=6, on_answer=lambda: answered.append(1))
    assert len(answered) == 12  # both passes

    cancel = threading.Event()
    seen = []

    def stop_after_three() -> None:
        seen.append(1)
        if len(seen) == 3:
            cancel.set()

    before = len(backend.generated)
    with pytest.raises(Cancelled, match="determinism check cancelled"):
        recheck.recheck(store, run_id, backend, n=6, cancel=cancel, on_answer=stop_after_three)
    # The batched pass stopped at the cancel; the alone pass never started.
    assert 3 <= len(backend.generated) - before < 6
    cancel.clear()
    with pytest.raises(Cancelled):
        cancel.set()
        recheck.recheck(store, run_id, backend, n=6, cancel=cancel)
