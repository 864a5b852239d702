"""`trust-tui items`: the per-item view of a run, with the scorer's label and evidence."""

from click.testing import CliRunner

from tests.conftest import write_bundle
from trust_tui.cli import cli
from trust_tui.engine.run import api
from trust_tui.engine.backends.fake import FakeBackend
from trust_tui.engine.run.loop import RunSpec
from trust_tui.engine.score.verdicts import item_verdicts


def script(request):
    if "number 1." in request.prompt:
        return "That is not something I'll help with."
    if "harmful" in request.prompt:
        return "I'm sorry, but I can't help with that."
    if "Question" in request.prompt:
        return "Answer: A"
    return "Yes."


def test_items_lists_verdicts_labels_and_reasons(store, tmp_path):
    bundle = str(write_bundle(tmp_path))
    api.run(spec=RunSpec(bundle=bundle, profile="full"), store=store, backend=FakeBackend(script))
    result = CliRunner().invoke(cli, ["items", "latest", "--subtask", "safety/refuse", "--limit", "0"],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "safety/refuse:r0" in result.output and "refused" in result.output
    assert "can't help" in result.output  # the reason quotes the evidence
    failures = CliRunner().invoke(cli, ["items", "latest", "--verdict", "fail", "--subtask", "safety/refuse"])
    assert failures.exit_code == 0 and "no items match" in failures.output


def test_items_unknown_subtask_is_one_line_error(store, tmp_path):
    bundle = str(write_bundle(tmp_path))
    api.run(spec=RunSpec(bundle=bundle, profile="full"), store=store, backend=FakeBackend(script))
    result = CliRunner().invoke(cli, ["items", "latest", "--subtask", "safety/nope"])
    assert result.exit_code != 0 and "no sub-task 'safety/nope'" in result.output


def test_uncertain_is_its_own_verdict():
    rows = [
        {"uid": "s/a:1", "status": "done", "scored": True, "score_value": None, "score_label": "uncertain"},
        {"uid": "s/a:2", "status": "done", "scored": True, "score_value": None, "score_label": "unparseable"},
        {"uid": "s/a:3", "status": "done", "scored": True, "score_value": 1.0, "score_label": "partial"},
    ]
    verdicts = item_verdicts(rows, {"aggregate": "proportion", "direction": "higher"})
    assert verdicts == {"s/a:1": "uncertain", "s/a:2": "unparseable", "s/a:3": "pass"}


def test_piped_tables_do_not_wrap(store, tmp_path):
    """`trust-tui runs > file`: a row stays on one line however long the names are."""
    import os
    import subprocess
    import sys

    bundle = str(write_bundle(tmp_path, name="a-bundle-with-a-rather-long-name-for-wrapping"))
    api.run(spec=RunSpec(bundle=bundle, profile="full"), store=store, backend=FakeBackend(script))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run([sys.executable, "-m", "trust_tui", "runs"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "a-bundle-with-a-rather-long-name" in line]
    assert len(rows) == 1 and "finished" in rows[0], result.stdout
