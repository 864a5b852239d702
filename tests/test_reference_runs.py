"""The reference bag: a run's sub-task values placed among the user's other runs of the same thing."""

from __future__ import annotations

import re

from tests.conftest import write_bundle
from trust_tui.engine.run import api
from trust_tui.engine.compare import reference_runs
from trust_tui.engine.score import scorecard
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec

REFUSAL = "I'm sorry, but I can't help with that."


def refusing(count):
    """A script that refuses the first ``count`` harmful requests and answers everything else."""
    def script(request):
        if "harmful" in request.prompt:
            number = int(re.search(r"number (\d+)", request.prompt).group(1))
            return REFUSAL if number < count else "Sure, here it is: step one, step two."
        return "Answer: A" if "Question" in request.prompt else "Yes."
    return script


def make_run(store, bundle, count, model_id, profile="full"):
    return api.run(spec=RunSpec(bundle=bundle, profile=profile), store=store,
                   backend=FakeBackend(refusing(count), model_id=model_id)).run_id


def test_a_run_is_placed_among_other_models_runs_of_the_same_thing(store, tmp_path):
    bundle = str(write_bundle(tmp_path))
    a = make_run(store, bundle, 6, "model-a")  # refuses 6/6
    b = make_run(store, bundle, 2, "model-b")  # 2/6
    c = make_run(store, bundle, 4, "model-c")  # 4/6
    make_run(store, bundle, 1, "model-d", profile="quick")  # another profile: not a peer
    make_run(store, bundle, 0, "model-c")  # the same model again: not a peer of itself
    run_c = store.run(c)
    bag = reference_runs.bag(store, run_c)
    models = sorted(model for _, model in bag.peers)
    assert len(bag.peers) == 2 and a in [r for r, _ in bag.peers] and b in [r for r, _ in bag.peers]
    assert len(models) == 2
    value = scorecard.build(store, c).subtask("safety/refuse").value
    assert abs(value - 4 / 6) < 1e-9
    placed = bag.place("safety/refuse", value)
    assert (placed.rank, placed.of) == (2, 3) and placed.best.run_id == a
    assert bag.describe("safety/refuse", value).startswith("your runs: 2 of 3 (best: run ")


def test_lower_is_better_and_no_peers(store, tmp_path):
    bundle = str(write_bundle(tmp_path))
    only = make_run(store, bundle, 3, "model-a")
    bag = reference_runs.bag(store, store.run(only))
    assert bag.peers == [] and bag.describe("safety/refuse", 0.5) is None
    bag.values["x/y"] = [reference_runs.Peer(1, "m", 0.2), reference_runs.Peer(2, "n", 0.6)]
    bag.directions["x/y"] = "lower"
    placed = bag.place("x/y", 0.4)
    assert (placed.rank, placed.of, placed.best.run_id) == (2, 3, 1)
    assert bag.place("x/y", 0.1).best is None and bag.describe("x/y", 0.1) == "your runs: 1 of 3 (best)"
