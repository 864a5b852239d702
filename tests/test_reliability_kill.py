"""A short kill soak (bench/kill_soak.py): `trust-tui run` SIGKILLed three times at random
moments, then finished: nothing lost, nothing generated twice, the store intact."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _kill_soak():
    spec = importlib.util.spec_from_file_location("kill_soak", ROOT / "bench" / "kill_soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.model
def test_three_kills_then_finish(smol_path):
    soak = _kill_soak()
    command = [sys.executable, "-m", "trust_tui", "run", "--quiet", "--subtask", "fairness/disparagement"]
    result = soak.soak(command, kills=3, seed=1, min_delay=1.0, max_delay=5.0, log=lambda *_: None)
    assert result["kills_survived"] == result["kills"] == 3 or result["finished_before_kill"]
    assert result["items_lost"] == 0 and result["generated_twice"] == 0
    assert result["integrity_check"] == "ok"
    assert result["final_exit"] == 0 and result["final_status"] == "finished"
    assert result["run_rows"] == 1  # every attempt resumed the same run
