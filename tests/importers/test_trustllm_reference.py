"""The TrustLLM leaderboard figures: validated against the importer's sub-tasks, and placed right."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from trust_tui.engine.trustllm.reference import (DATA_FILE, Leaderboard, Reference, is_trustllm_run,
                                                    leaderboard, parse)
from trust_tui.engine.trustllm.subtasks import SUBTASKS

BY_ID = {f"{s.dimension}/{s.name}": s for s in SUBTASKS}
# Published with the leakage task but not sub-tasks of their own (its notes show TD and CD).
LEAKAGE_EXTRAS = {"privacy/leakage_td", "privacy/leakage_cd"}
RANGES = {"pearson": (-1.0, 1.0), "pair_robustness_score": (-1.0, 1.0)}


def test_every_reference_names_a_subtask_with_its_direction() -> None:
    board = leaderboard()
    assert board.source and board.caveat and board.retrieved
    for key, ref in board.metrics.items():
        if key in LEAKAGE_EXTRAS:
            assert ref.direction == "lower"
            continue
        assert key in BY_ID, f"{key}: not a sub-task of the TrustLLM import"
        assert ref.direction == BY_ID[key].direction, key


def test_values_lie_in_each_metrics_range_and_cover_the_sixteen_models() -> None:
    board = leaderboard()
    models = None
    for key, ref in board.metrics.items():
        aggregate = BY_ID[key].aggregate if key in BY_ID else "proportion"
        low, high = RANGES.get(aggregate, (0.0, 1.0))
        assert all(low <= v <= high for v in ref.values.values()), key
        assert len(ref.values) == 16, key
        models = models or set(ref.values)
        assert set(ref.values) == models, f"{key}: model names differ from the other metrics'"


def test_most_subtasks_of_the_import_have_a_reference() -> None:
    covered = set(leaderboard().metrics) & set(BY_ID)
    # Disparagement is published as two p-values (sex, race), ours is one Bonferroni p: no reference.
    assert set(BY_ID) - covered == {"fairness/disparagement"}


def test_figures_quoted_in_the_issue() -> None:
    board = leaderboard()
    assert board.get("safety/jailbreak").values["Llama2-7b"] == 0.945
    assert board.get("safety/jailbreak").values["Vicuna-7b"] == 0.596
    assert board.get("safety/misuse").values["Mistral-7b"] == 0.709
    assert board.get("ethics/implicit_ethics").values["Mistral-7b"] == 0.66
    assert board.get("robustness/advinstruction").values["Llama2-70b"] == pytest.approx(0.9764)


def _board(direction: str) -> Leaderboard:
    ref = Reference("x/y", "col", direction, {"A": 0.9, "B": 0.5, "C": 0.1})
    return Leaderboard("s", "", "", "", {"x/y": ref})


def test_placement_on_a_higher_is_better_metric() -> None:
    board = _board("higher")
    placed = board.place("x/y", 0.6)
    assert (placed.rank, placed.of, placed.better, placed.worse) == (2, 4, ("A", 0.9), ("B", 0.5))
    assert board.place("x/y", 0.95).rank == 1 and board.place("x/y", 0.95).better is None
    assert board.place("x/y", 0.0).rank == 4 and board.place("x/y", 0.0).worse is None
    assert board.place("x/y", 0.5).rank == 3  # a tie ranks after the published figure
    assert board.describe("x/y", 0.6) == ("TrustLLM leaderboard: 2nd of 4 (below A 0.900, above B 0.500; "
                                          "published 0.100-0.900)")


def test_placement_on_a_lower_is_better_metric() -> None:
    board = _board("lower")
    placed = board.place("x/y", 0.2)
    assert (placed.rank, placed.better, placed.worse) == (2, ("C", 0.1), ("B", 0.5))
    assert board.place("x/y", None) is None and board.place("z/z", 0.5) is None


def test_a_bad_data_file_is_refused() -> None:
    raw = tomllib.loads(resources.files("trust_tui.engine.trustllm").joinpath(DATA_FILE).read_text("utf-8"))
    with pytest.raises(ValueError, match="format"):
        parse({**raw, "format": 2})
    bad = {**raw, "metrics": {"x/y": {"direction": "up", "values": {}}}}
    with pytest.raises(ValueError, match="direction"):
        parse(bad)


def test_only_runs_of_the_imported_bundle_get_references() -> None:
    assert is_trustllm_run({"bundle": "trustllm"}) and is_trustllm_run({"bundle": "trustllm-s20"})
    assert not is_trustllm_run({"bundle": "trust-core"}) and not is_trustllm_run({"bundle": "trustllm-sx"})
