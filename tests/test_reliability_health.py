"""Degenerate output is a warning, not a score; skip reasons are said, grouped."""

from __future__ import annotations

import json
import subprocess
import sys
import os
from pathlib import Path

import pytest

from tests.conftest import write_bundle
from tests.test_reliability_gguf import write_gguf
from trust_tui.engine.run import health
from trust_tui.errors import ANSWERS_LOOK_BROKEN

ROOT = Path(__file__).resolve().parent.parent


def rows(answers, subtask="s", value=1.0, label="x"):
    return [{"status": "done", "subtask": subtask, "answer": a, "score_value": value, "score_label": label}
            for a in answers]


def test_assess_rules():
    assert health.assess(rows([""] * 8)).problem.startswith("answers look broken: 8/8 empty")
    assert not health.assess(rows(["", "", "a"])).broken  # too few to judge
    # One label for every item of one multiple-choice task: a bad model, not a broken one.
    assert not health.assess(rows(["A"] * 20)).broken
    same = rows(["The the the the the the the the"] * 9, "a") + rows(["The the the the the the the the"] * 9, "b")
    assert "18/18 identical" in health.assess(same).problem
    junk = rows([f"x{i}" for i in range(10)], value=None, label="unparseable")
    assert "10/10 unparseable" in health.assess(junk).problem
    assert not health.assess(junk, usual_unparseable=0.85).broken  # usual for this bundle here
    assert not health.assess(rows([f"answer {i}" for i in range(30)])).broken


def test_skip_kinds_group():
    reasons = [f"prompt of {n} tokens + max_tokens 64 exceeds the context of 512 tokens (raise --ctx)"
               for n in (600, 700)] + ["prompt of 900 tokens does not fit the context of 512 tokens",
                                      "server said 500 for item 3", "server said 500 for item 4"]
    kinds = [health.skip_kind(r) for r in reasons]
    assert kinds[:3] == ["prompt too long"] * 3 and kinds[3] == kinds[4]
    from collections import Counter

    assert health.describe_skips(Counter(kinds).most_common()) == \
        "skipped 5: prompt too long (3), server said N for item N (2)"


def _cli_run(tmp_path, monkeypatch, capsys, script, fail_on=None, bundle=None):
    """`trust-tui run` in-process with the scripted fake backend in place of llama.cpp."""
    from trust_tui import cli
    from trust_tui.engine.run import api
    from trust_tui.engine.backends.fake import FakeBackend

    monkeypatch.setattr(api, "open_backend", lambda *a, **k: FakeBackend(script=script, fail_on=fail_on))
    model = write_gguf(tmp_path / "crafted.gguf")
    bundle = bundle or write_bundle(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", str(model), "--bundle", str(bundle), "--quiet"])
        raise SystemExit(0)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_empty_answers_warn_and_exit_nonzero(tmp_path, monkeypatch, capsys):
    code, out, _ = _cli_run(tmp_path, monkeypatch, capsys, lambda request: "")
    assert code == ANSWERS_LOOK_BROKEN == 8
    assert out.count("answers look broken: 12/12 empty") == 2  # above and below the table
    report = subprocess.run([sys.executable, "-m", "trust_tui", "report"], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert report.returncode == 0 and "answers look broken: 12/12 empty" in report.stdout
    md = subprocess.run([sys.executable, "-m", "trust_tui", "export", "latest"], capture_output=True,
                        text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert "> **Warning: answers look broken: 12/12 empty" in md.stdout
    data = json.loads(subprocess.run([sys.executable, "-m", "trust_tui", "export", "latest", "--format", "json"],
                                     capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout)
    assert data["answers_warning"].startswith("answers look broken")


def test_a_normal_run_exits_zero(tmp_path, monkeypatch, capsys):
    code, out, _ = _cli_run(tmp_path, monkeypatch, capsys, None)
    assert code == 0 and "answers look broken" not in out


def test_skip_reasons_in_the_summary(tmp_path, monkeypatch, capsys):
    too_long = lambda request: ("prompt of 900 tokens + max_tokens 16 exceeds the context of 512 tokens"
                                if "harmful" in request.prompt else None)
    code, out, _ = _cli_run(tmp_path, monkeypatch, capsys, None, fail_on=too_long)
    assert "skipped 4: prompt too long (4)" in out, out


HOSTILE = "T\x1b[2J\x1b]0;pwned\x07|row\nnext\x9b31m\u202e"


def test_hostile_text_never_reaches_the_terminal(tmp_path, monkeypatch, capsys):
    """Bundle title, sub-task titles, metric, tag values and the model's file name and answers
    carrying CSI, OSC, BEL, C1 and bidi characters: nothing of them in any command's output,
    and the Markdown tables keep their rows."""
    bundle = write_bundle(tmp_path, "hostile", items={
        "refuse": [{"id": f"r{i}", "prompt": f"Do harmful thing {i}.", "tags": [HOSTILE]} for i in range(6)]})
    manifest = (bundle / "bundle.toml").read_text()
    manifest = manifest.replace('metric = "refuse-to-answer rate"', f'metric = {json.dumps(HOSTILE)}\ntitle = {json.dumps(HOSTILE)}')
    (bundle / "bundle.toml").write_text(manifest)
    code, out, err = _cli_run(tmp_path, monkeypatch, capsys, lambda request: HOSTILE + " answer " + request.prompt[-30:-10],
                              bundle=bundle)
    outputs = {"run": out + err}
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    for args in (["runs"], ["report"], ["items", "latest", "--limit", "0"], ["export", "latest"],
                 ["export", "latest", "--format", "json"]):
        result = subprocess.run([sys.executable, "-m", "trust_tui", *args], capture_output=True, text=True, env=env)
        assert result.returncode == 0, (args, result.stderr)
        outputs[" ".join(args)] = result.stdout + result.stderr
    json_out = outputs.pop("export latest --format json")  # the data kept exact, as \u escapes
    assert json.loads(json_out)["dimensions"][1]["subtasks"][0]["metric"] == HOSTILE
    for text in [*outputs.values(), json_out]:
        for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert bad not in text, (bad, text[:300])
    for text in outputs.values():
        assert "pwned" not in text  # an OSC sequence goes whole, its payload too
    md = outputs["export latest"]
    table_rows = [line for line in md.splitlines() if line.startswith("| ") and "T" in line and "row" in line]
    assert table_rows and all(r"\|row next" in line for line in table_rows)
