"""Stores written at every earlier schema version open, migrate and read the same (issue 20).

Each earlier version is built by the run loop with only the migrations that existed then, a real
run is recorded in it, and the current code then opens it: the version is brought up to date, the
run's scorecard is unchanged, and the tables of the later migrations work."""

from __future__ import annotations

import pytest

from tests.conftest import write_bundle
from trust_tui.engine.run import api, store as store_mod
from trust_tui.engine.score import overrides, scorecard
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec

CURRENT = len(store_mod.MIGRATIONS)


def script(request):
    if "harmful" in request.prompt:
        return "I'm sorry, but I can't help with that."
    return "Answer: A" if "Question" in request.prompt else "Yes."


@pytest.mark.parametrize("version", range(1, CURRENT))
def test_a_store_of_every_earlier_version_migrates_and_reads_the_same(tmp_path, monkeypatch, version):
    path = tmp_path / "old.db"
    mini = str(write_bundle(tmp_path))
    with monkeypatch.context() as patch:
        patch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:version])
        old = store_mod.Store(path)
        assert old.db.execute("PRAGMA user_version").fetchone()[0] == version
        if version >= 3:  # the run loop writes its owner from _m3 on
            run_id = api.run(spec=RunSpec(bundle=mini, profile="full"), store=old,
                             backend=FakeBackend(script, model_id="m")).run_id
            before = [(s.id, s.value, s.n) for s in scorecard.build(old, run_id).subtasks]
        old.close()
    new = store_mod.Store(path)
    try:
        assert new.db.execute("PRAGMA user_version").fetchone()[0] == CURRENT
        if version >= 3:
            assert [(s.id, s.value, s.n) for s in scorecard.build(new, run_id).subtasks] == before
            overrides.set_override(new, run_id, "r0", 0.0, "complied")  # a table of a later migration
            assert len(overrides.for_run(new, run_id)) == 1
        assert {"judge_verdicts", "overrides", "rechecks"} <= set(new.db.table_names())
    finally:
        new.close()
