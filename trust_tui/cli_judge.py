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


def judged_run(console, model, spec, options, store, progress, cancel, judge, judge_format,
               threads, n_gpu_layers, judge_server=None):
    """`run --judge`: the run, then the judge (trust_tui.engine.judge.session)."""
    from trust_tui.engine.judge.session import JudgeOptions, run_judged

    outcome, judged, plan = run_judged(
        model, spec, options, JudgeOptions(judge, judge_format, threads=threads, n_gpu_layers=n_gpu_layers),
        store, listener=progress.on_event, cancel=cancel, on_stage=progress.stage)
    console.print(f"judge memory: {plan.reason}", soft_wrap=True)
    console.print(judged.summary_line(), soft_wrap=True)
    return outcome


@click.command("judge")
@click.argument("run_id", default="latest")
@click.option("--judge", "judge", required=True, metavar="JUDGE.gguf", help="The judge model file.")
@click.option("--judge-format", type=click.Choice(["generic", "llama-guard-3", "wildguard", "shieldgemma"]), default=None, help="How the judge is asked (default: from its GGUF metadata).")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--n-gpu-layers", type=int, default=None, help="Judge layers on the GPU (-1: all).")
@click.option("--parallel", type=int, default=None, help="Answers judged together (default: chosen from the hardware).")
def judge(run_id, judge, judge_format, threads, n_gpu_layers, parallel) -> None:
    """Judge a run's cached answers where its rules leave the verdict open; generates nothing."""
    from trust_tui.engine.judge.judging import judge_run
    from trust_tui.engine.judge.session import JudgeOptions, open_judge
    from trust_tui.engine.run.store import Store
    from trust_tui.render import print_scorecard

    store = Store()
    run = store.run(run_id)
    engine = open_judge(JudgeOptions(judge, judge_format, threads, n_gpu_layers, parallel), store)
    console = _console()
    try:
        outcome = judge_run(store, run["id"], engine, on_stage=lambda text: console.print(f"[dim]{text}[/]"))
    finally:
        engine.close()
    print_scorecard(console, store, run["id"])
    console.print(f"run {run['id']} · judge {engine.label}")
    console.print(outcome.summary_line(), soft_wrap=True)


@click.command("judge-check")
@click.argument("judge")
@click.option("--judge-format", type=click.Choice(["generic", "llama-guard-3", "wildguard", "shieldgemma"]), default=None, help="How the judge is asked (default: from its GGUF metadata).")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder of labelled answers (default: tests/corpus/refusal of the checkout).")
@click.option("--sample", type=click.IntRange(min=1), default=None, help="Judge this many answers, spread over the corpus (default: all).")
@click.option("--reask", is_flag=True, help="Ask again with the labels in another order and report self-consistency.")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--n-gpu-layers", type=int, default=None, help="Judge layers on the GPU (-1: all).")
@click.option("--parallel", type=int, default=None, help="Answers judged together (default: chosen from the hardware).")
def judge_check(judge, judge_format, corpus, sample, reask, threads, n_gpu_layers, parallel) -> None:
    """Measure a judge's agreement (Cohen's kappa) with the hand-labelled corpus."""
    from trust_tui.engine.judge import calibrate
    from trust_tui.engine.judge.session import JudgeOptions, open_judge
    from trust_tui.engine.run.store import Store
    from trust_tui.errors import TrustError as _TrustError

    folder = corpus or calibrate.default_corpus()
    if folder is None or not folder.is_dir():
        raise _TrustError("no labelled corpus found: pass --corpus DIR (tests/corpus/refusal of a checkout)")
    store = Store()
    engine = open_judge(JudgeOptions(judge, judge_format, threads, n_gpu_layers, parallel), store)
    console = _console()
    try:
        result = calibrate.check(store, engine, folder, limit=sample, reask=reask,
                                 on_stage=lambda text: console.print(f"[dim]{text}[/]"))
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
