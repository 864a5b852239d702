"""A bundle's own dimension titles travel with its run, through the store, into the scorecard."""

from tests.conftest import SUBTASK_MC, SUBTASK_REFUSE, write_bundle
from trust_tui.engine.run import api
from trust_tui.engine.score import scorecard
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec

SUBTASKS = '''
[dimensions.safety]
title = "Staying out of harm's way"
''' + SUBTASK_REFUSE + SUBTASK_MC


def test_a_bundles_dimension_titles_reach_its_scorecard(store, tmp_path):
    bundle = write_bundle(tmp_path, subtasks=SUBTASKS)
    outcome = api.run(spec=RunSpec(bundle=str(bundle), profile="full"), store=store,
                      backend=FakeBackend(lambda request: "I'm sorry, but I can't help with that."))
    card = scorecard.build(store, outcome.run_id)
    titles = {dimension.id: dimension.title for dimension in card.dimensions}
    assert titles == {"truthfulness": "Truthfulness", "safety": "Staying out of harm's way"}
