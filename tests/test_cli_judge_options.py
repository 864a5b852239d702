"""`run --judge...` takes every option `judge` takes and hands them to the judged run."""

from __future__ import annotations

import click
from click.testing import CliRunner

from trust_tui import cli, cli_judge


def _names(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in getattr(p, "opts", [])}


def test_run_offers_every_judge_source_option_of_judge():
    judge_only = {"--judge-audit", "--judge-format", "--judge-server", "--judge-server-model",
                  "--judge-server-model-file", "--judge-fingerprint", "--judge-api-key-env"}
    assert judge_only <= _names(cli_judge.judge)
    assert judge_only <= _names(cli.run)


def test_run_hands_the_judge_options_to_the_judged_run(monkeypatch, tmp_path):
    seen = {}

    class Stop(Exception):
        pass

    def fake_judged_run(console, model, spec, options, store, progress, cancel, judge, judge_format,
                        threads, n_gpu_layers, **kwargs):
        seen.update(kwargs, judge=judge, judge_format=judge_format)
        raise Stop

    monkeypatch.setattr(cli_judge, "judged_run", fake_judged_run)
    monkeypatch.setenv("TRUST_TUI_HOME", str(tmp_path))
    result = CliRunner().invoke(cli.cli, [
        "run", "--quiet", "--judge-server", "http://127.0.0.1:9/v1", "--judge-server-model", "guard",
        "--judge-server-model-file", "/m/guard.gguf", "--judge-fingerprint", "guard-1",
        "--judge-api-key-env", "GUARD_KEY", "--judge-audit", "7", "--judge-format", "llama-guard-3"])
    assert isinstance(result.exception, Stop), result.output
    assert seen == {"judge": None, "judge_format": "llama-guard-3",
                    "judge_server": "http://127.0.0.1:9/v1", "judge_server_model": "guard",
                    "judge_server_model_file": "/m/guard.gguf", "judge_fingerprint": "guard-1",
                    "judge_api_key_env": "GUARD_KEY", "judge_audit": 7}
