"""`trust-tui judge`, `judge-check` and the judge half of `run --judge`: thin calls into
trust_tui.engine.judge, registered on cli.py's group."""

from __future__ import annotations

from pathlib import Path

import click


def _console(stderr: bool = False):
    from trust_tui.render import console

    return console(stderr)


def _t(value: object) -> str:
    from trust_tui.render import _t as terminal_text

    return terminal_text(value)


FORMATS = ["generic", "llama-guard-3", "wildguard", "shieldgemma"]


def judge_source_options(command):
    """The options that say which judge reads: a file, or a server and how its model is named."""
    for option in reversed([
        click.option("--judge-format", type=click.Choice(FORMATS), default=None,
                     help="How the judge is asked (default: from its GGUF metadata, or from what its server says)."),
        click.option("--judge-server", default=None, metavar="URL",
                     help="A judge behind an OpenAI-compatible server (llama-server, llama_cpp.server, vLLM, Ollama)."),
        click.option("--judge-server-model", default=None, metavar="NAME",
                     help="The model name to ask the judge server for (default: the first it lists)."),
        click.option("--judge-server-model-file", default=None, metavar="FILE.gguf",
                     help="The GGUF the judge server loaded: its sha256 names the judge's verdicts in the cache."),
        click.option("--judge-fingerprint", default=None, metavar="TEXT",
                     help="Assert which model the judge server serves (a name you choose); its verdicts are cached under it."),
        click.option("--judge-api-key-env", default=None, metavar="NAME",
                     help="Environment variable holding the judge server's API key (never stored)."),
    ]):
        command = option(command)
    return command


def judge_options(judge, judge_format, threads, n_gpu_layers, parallel, judge_server=None,
                  judge_server_model=None, judge_server_model_file=None, judge_fingerprint=None,
                  judge_api_key_env=None, judge_audit=None):
    from trust_tui.engine.judge.audit import DEFAULT_AUDIT
    from trust_tui.engine.judge.session import JudgeOptions

    return JudgeOptions(judge, judge_format, threads, n_gpu_layers, parallel, server=judge_server,
                        server_model=judge_server_model, server_model_file=judge_server_model_file,
                        fingerprint=judge_fingerprint, api_key_env=judge_api_key_env,
                        audit=DEFAULT_AUDIT if judge_audit is None else judge_audit)


def print_outcome(console, outcome) -> None:
    """What a judging pass did, its agreement with the rules where both read, and its warning."""
    from trust_tui.engine.judge.audit import line

    if outcome.warning:
        console.print(f"[yellow]warning:[/] {_t(outcome.warning)}", soft_wrap=True)
    console.print(outcome.summary_line(), soft_wrap=True)
    agreement = line(outcome.agreement)
    if agreement:
        console.print(agreement, soft_wrap=True)


def judged_run(console, model, spec, options, store, progress, cancel, judge, judge_format,
               threads, n_gpu_layers, judge_server=None, judge_server_model=None,
               judge_server_model_file=None, judge_fingerprint=None, judge_api_key_env=None,
               judge_audit=None):
    """`run --judge` / `run --judge-server`: the run, then the judge (trust_tui.engine.judge.session)."""
    from trust_tui.engine.judge.session import run_judged

    # The audited run's own --parallel is not the judge's: a judge picks its own (or its server's slots).
    chosen = judge_options(judge, judge_format, threads, n_gpu_layers, None, judge_server,
                           judge_server_model, judge_server_model_file, judge_fingerprint,
                           judge_api_key_env, judge_audit)
    outcome, judged, plan = run_judged(model, spec, options, chosen, store, listener=progress.on_event,
                                       cancel=cancel, on_stage=progress.stage)
    console.print(f"judge memory: {plan.reason}", soft_wrap=True)
    print_outcome(console, judged)
    return outcome


@click.command("judge")
@click.argument("run_id", default="latest")
@click.option("--judge", "judge", default=None, metavar="JUDGE.gguf", help="The judge model file (or --judge-server).")
@judge_source_options
@click.option("--judge-audit", type=click.IntRange(min=0), default=None, metavar="N",
              help="Also read N answers the rules decided, to measure judge vs rules agreement (default 24; 0: none).")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--n-gpu-layers", type=int, default=None, help="Judge layers on the GPU (-1: all).")
@click.option("--parallel", type=int, default=None, help="Answers judged together (default: chosen from the hardware, or the server's slots).")
def judge(run_id, judge, judge_format, judge_server, judge_server_model, judge_server_model_file,
          judge_fingerprint, judge_api_key_env, judge_audit, threads, n_gpu_layers, parallel) -> None:
    """Judge a run's cached answers where its rules leave the verdict open; generates nothing."""
    from trust_tui.engine.judge.session import judge_existing
    from trust_tui.engine.run.store import Store
    from trust_tui.render import print_scorecard

    chosen = judge_options(judge, judge_format, threads, n_gpu_layers, parallel, judge_server,
                           judge_server_model, judge_server_model_file, judge_fingerprint,
                           judge_api_key_env, judge_audit)
    store = Store()
    run = store.run(run_id)
    console = _console()
    outcome, engine = judge_existing(store, run["id"], chosen,
                                     on_stage=lambda text: console.print(f"[dim]{_t(text)}[/]"))
    print_scorecard(console, store, run["id"])
    console.print(f"run {run['id']} · judge {_t(engine.label)}", soft_wrap=True)
    print_outcome(console, outcome)


@click.command("judge-check")
@click.argument("judge", required=False)
@judge_source_options
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder of labelled answers (default: tests/corpus/refusal of the checkout).")
@click.option("--sample", type=click.IntRange(min=1), default=None, help="Judge this many answers, spread over the corpus (default: all).")
@click.option("--reask", is_flag=True, help="Ask again with the labels in another order and report self-consistency.")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--n-gpu-layers", type=int, default=None, help="Judge layers on the GPU (-1: all).")
@click.option("--parallel", type=int, default=None, help="Answers judged together (default: chosen from the hardware, or the server's slots).")
def judge_check(judge, judge_format, judge_server, judge_server_model, judge_server_model_file,
                judge_fingerprint, judge_api_key_env, corpus, sample, reask, threads, n_gpu_layers,
                parallel) -> None:
    """Measure a judge's agreement (Cohen's kappa) with the hand-labelled corpus (JUDGE: a GGUF, or --judge-server)."""
    from trust_tui.engine.judge import calibrate
    from trust_tui.engine.judge.session import open_judge
    from trust_tui.engine.run.store import Store
    from trust_tui.errors import TrustError as _TrustError

    folder = corpus or calibrate.default_corpus()
    if folder is None or not folder.is_dir():
        raise _TrustError("no labelled corpus found: pass --corpus DIR (tests/corpus/refusal of a checkout)")
    chosen = judge_options(judge, judge_format, threads, n_gpu_layers, parallel, judge_server,
                           judge_server_model, judge_server_model_file, judge_fingerprint,
                           judge_api_key_env)
    store = Store()
    engine = open_judge(chosen, store)
    console = _console()
    if engine.warning:
        console.print(f"[yellow]warning:[/] {_t(engine.warning)}", soft_wrap=True)
    try:
        result = calibrate.check(store, engine, folder, limit=sample, reask=reask,
                                 on_stage=lambda text: console.print(f"[dim]{_t(text)}[/]"))
    finally:
        engine.close()
    _print_judge_check(console, engine.label, result)


def _print_judge_check(console, label: str, result) -> None:
    from rich.markup import escape
    from rich.table import Table

    from trust_tui.engine.judge.overlay import KAPPA_FLOOR

    def fmt(value, digits=2):
        return "–" if value is None else f"{value:.{digits}f}"

    table = Table(title=f"judge-check · {escape(label)} · rubric {result.rubric}",
                  title_justify="left")
    for column in ("group", "n", "kappa (3 classes)", "kappa (binary)", "accuracy", "unreadable"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for title, groups in (("sub-task", result.by_family), ("language", result.by_language)):
        for name, row in groups.items():
            table.add_row(f"{title} {escape(name)}", str(row["n"]), fmt(row["kappa"]),
                          fmt(row["kappa_binary"]), fmt(row["accuracy"]), str(row["unreadable"]))
        table.add_section()
    row = result.overall
    table.add_row("[bold]all[/]", str(row["n"]), fmt(row["kappa"]), fmt(row["kappa_binary"]),
                  fmt(row["accuracy"]), str(row["unreadable"]))
    console.print(table)
    if result.not_supported:
        console.print(f"{result.not_supported} answers not readable by the {result.format} format "
                      f"(left out)")
    if result.self_consistency:
        sc = result.self_consistency
        console.print(f"self-consistency (labels re-asked in another order): same verdict "
                      f"{100 * sc['same']:.1f}% of {sc['n']}, kappa {fmt(sc['kappa'])}")
    kappa = row["kappa_binary"]
    if kappa is None or kappa < KAPPA_FLOOR:
        console.print(f"[yellow]warning:[/] binary kappa {fmt(kappa)} is below the floor "
                      f"{KAPPA_FLOOR}: scorecards judged by this judge carry a warning")
    console.print(result.outcome.summary_line().replace("judge:", "judge-check:"), soft_wrap=True)


COMMANDS = [judge, judge_check]
