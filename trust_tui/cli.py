"""The command line. Each command is a thin call into the engine (trust_tui.engine.run.api et al.).

Errors from the engine (``TrustError``) become one red line and a non-zero exit; Ctrl-C keeps
everything finished and exits 130.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from pathlib import Path

import click

from trust_tui.cli_judge import judge_source_options
from trust_tui.errors import Cancelled, TrustError


def _console(stderr: bool = False):
    from trust_tui.render import console

    return console(stderr)


def _t(value: object) -> str:
    """Outside text (bundle, model file, answer) for a Rich line: inert and markup-escaped."""
    from trust_tui.render import _t as terminal_text

    return terminal_text(value)


def _error(message: str, code: int = 1) -> None:
    _console(stderr=True).print(f"[bold red]error:[/] {_t(message)}", soft_wrap=True)
    sys.exit(code)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trust-tui")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Audit how trustworthy a local GGUF model is, offline (TrustLLM's six dimensions).

    With no command, opens the terminal app.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui)


@cli.command()
@click.argument("model", required=False)
@click.option("--bundle", default="trust-core", show_default=True, help="Bundle name or path.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True)
def tui(model: str | None, bundle: str, profile: str) -> None:
    """Open the terminal app (the default command)."""
    from trust_tui.tui.app import create_app

    create_app(model=model, bundle=bundle, profile=profile).run()


@cli.command()
@click.argument("model", required=False)
@click.option("--bundle", default="trust-core", show_default=True, help="Bundle name or path.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True)
@click.option("--dimension", "dimensions", multiple=True, help="Only this dimension (repeatable).")
@click.option("--subtask", "subtasks", multiple=True, help="Only this sub-task (repeatable).")
@click.option("--n-gpu-layers", type=int, default=None, help="Layers on the GPU (-1: all; default: all when llama.cpp has GPU support).")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--ctx", "n_ctx", type=int, default=None, help="Context tokens per sequence (default: the run's longest prompt + its max_tokens, rounded up to 256; recorded with the run).")
@click.option("--parallel", type=int, default=None, help="Sequences decoded together (default: chosen from the hardware).")
@click.option("--server", "servers", multiple=True, help="Base URL of an OpenAI-compatible server instead of a model file (repeatable: several servers of the same model share the work).")
@click.option("--server-model", default=None, help="Model name to ask the server for (default: the first it lists).")
@click.option("--server-model-file", default=None, help="The GGUF file the server loaded: its sha256 identifies the model.")
@click.option("--fingerprint", default=None, help="Assert which model the server serves (a name you choose); answers are cached under it.")
@click.option("--api-key-env", default=None, metavar="NAME", help="Environment variable holding the server's API key (never stored).")
@click.option("--server-timeout", type=float, default=None, help="Seconds a server may send nothing before it counts as silent (default 60).")
@click.option("--server-retries", type=click.IntRange(0, 50), default=None, help="Tries again after a server fault, with backoff (default 6).")
@click.option("--temperature", type=float, default=None, help="Sampling temperature for every sub-task (default greedy).")
@click.option("--seed", type=int, default=None, help="Sampling seed for every sub-task.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--judge", "judge", default=None, metavar="JUDGE.gguf", help="A judge model for the verdicts the rules leave open (docs/judge.md).")
@judge_source_options
@click.option("--judge-audit", type=click.IntRange(min=0), default=None, metavar="N",
              help="Also judge N answers the rules decided, to measure judge vs rules agreement (default 24; 0: none).")
@click.option("--require", "requirements", multiple=True, metavar="NAME>=VALUE",
              help="CI gate: exit 9 unless it holds (a dimension or sub-task: safety>=0.8, misuse>=90%); repeatable.")
@click.option("--recheck", "recheck_n", type=click.IntRange(min=1), default=None, metavar="N",
              help="Determinism check: ask N items again bypassing the cache, batched and alone.")
@click.option("--json", "as_json", is_flag=True, help="Print the scorecard as one JSON document on stdout (the JSON export); the rest goes to stderr.")
@click.option("--budget", default=None, metavar="DURATION",
              help="Run the largest stratified subset of the profile that fits (10m, 90s, 1h), from measured rates.")
@click.option("--per-subtask", type=click.IntRange(min=1), default=None,
              help="That many items of each sub-task (as the quick profile picks them); --budget chooses it for you.")
def run(model, bundle, profile, dimensions, subtasks, n_gpu_layers, threads, n_ctx, parallel,
        servers, server_model, server_model_file, fingerprint, api_key_env, server_timeout,
        server_retries, temperature, seed, quiet, judge=None, judge_format=None, requirements=(),
        recheck_n=None, as_json=False, budget=None, per_subtask=None, judge_server=None,
        judge_server_model=None, judge_server_model_file=None, judge_fingerprint=None,
        judge_api_key_env=None, judge_audit=None) -> None:
    """Run a bundle on MODEL (a .gguf path; default: the embedded SmolLM2) and print the scorecard."""
    from trust_tui.engine.run import api
    from trust_tui.engine.run.loop import RunSpec
    from trust_tui.engine.run.store import Store
    from trust_tui.progress import RichProgress

    generation = {}
    if temperature is not None:
        generation["temperature"] = temperature
    if seed is not None:
        generation["seed"] = seed
    spec = RunSpec(bundle=bundle, profile=profile, dimensions=tuple(dimensions),
                   subtasks=tuple(subtasks), generation=generation, per_subtask=per_subtask)
    if servers and model:
        raise TrustError(f"{model}: give a model file or --server, not both "
                         "(--server-model-file names the file the server loaded)")
    options = api.BackendOptions(n_ctx=n_ctx, threads=threads, n_gpu_layers=n_gpu_layers,
                                 parallel=parallel, server=tuple(servers) or None,
                                 server_model=server_model, server_model_file=server_model_file,
                                 fingerprint=fingerprint, api_key_env=api_key_env,
                                 server_timeout=server_timeout, server_retries=server_retries)
    from trust_tui.engine.score import gate

    gates = [gate.parse_requirement(text) for text in requirements]  # bad syntax fails before the run
    console = _console(stderr=as_json)
    store = Store()
    if budget:
        spec = _budgeted(console, store, spec, model, servers, budget)
    cancel = threading.Event()
    progress = RichProgress(console, enabled=not quiet)
    try:
        with progress:
            if judge or judge_server:
                from trust_tui.cli_judge import judged_run

                outcome = judged_run(console, model, spec, options, store, progress, cancel,
                                     judge, judge_format, threads, n_gpu_layers,
                                     judge_server=judge_server, judge_server_model=judge_server_model,
                                     judge_server_model_file=judge_server_model_file,
                                     judge_fingerprint=judge_fingerprint,
                                     judge_api_key_env=judge_api_key_env, judge_audit=judge_audit)
            else:
                outcome = api.run(model, spec, options, store=store, listener=progress.on_event,
                                  cancel=cancel, on_stage=progress.stage)
    except KeyboardInterrupt:
        cancel.set()
        raise Cancelled("cancelled: everything finished so far is stored; run again to resume") from None
    from trust_tui.render import print_scorecard

    from trust_tui.engine.run.health import describe_skips, skip_reasons
    from trust_tui.errors import ANSWERS_LOOK_BROKEN

    health = print_scorecard(console, store, outcome.run_id)
    rate = f" · {outcome.tokens_per_second:.0f} tok/s" if outcome.tokens_generated else ""
    console.print(f"run {outcome.run_id} · {outcome.total} items · {outcome.wall_seconds:.1f} s{rate}")
    summary = outcome.summary_line()
    if outcome.skipped:
        # "skipped 8" alone sends the user to the database; say why, grouped.
        summary = summary.replace(f"skipped {outcome.skipped}",
                                  _t(describe_skips(skip_reasons(store, outcome.run_id))))
    console.print(summary)
    if servers:
        from trust_tui.engine.backends.server.identity import served_by

        # The identity warning, if any, is printed with the scorecard (the run's template_warning).
        console.print(_t(served_by(store.run(outcome.run_id).get("backend"))), soft_wrap=True)
    if recheck_n:
        _recheck(console, store, outcome.run_id, recheck_n, threads, n_gpu_layers)
    if as_json:
        _print_json(_scorecard_json(store, outcome.run_id))
    _gate(store, outcome.run_id, gates)
    if health.broken:
        sys.exit(ANSWERS_LOOK_BROKEN)


def _budgeted(console, store, spec, model, servers, budget: str):
    """The spec with the items per sub-task that fit the budget (engine/run/budget.py), said in one line."""
    from dataclasses import replace

    from trust_tui.engine.run import budget as budget_mod


    from trust_tui.engine import bundles

    from trust_tui.engine.models import files as models
    if spec.per_subtask:
        raise TrustError("give --budget or --per-subtask, not both")
    seconds = budget_mod.parse_duration(budget)
    model_id = None if servers else models.identify(model, store).sha256
    loaded = bundles.load(spec.bundle)
    plan = budget_mod.plan(store, model_id, loaded, spec.profile, spec.dimensions, spec.subtasks, seconds)
    console.print(_t(plan.describe(seconds)))
    return replace(spec, per_subtask=plan.per_subtask or None)


def _recheck(console, store, run_id: int, n: int, threads, n_gpu_layers) -> None:
    from trust_tui.engine.run import recheck

    run = store.run(run_id)
    backend = recheck.open_run_backend(store, run, threads, n_gpu_layers)
    try:
        result = recheck.recheck(store, run_id, backend, n)
    finally:
        backend.close()
    recheck.save(store, result)
    for line in recheck.describe(result):
        console.print(_t(line))


def _scorecard_json(store, run_id: int) -> dict:
    from trust_tui.export.report import build

    return build(store, run_id)


def _print_json(data) -> None:
    from trust_tui.render import print_json

    print_json(data)


def _gate(store, run_id: int, gates) -> None:
    if not gates:
        return
    from trust_tui.engine.score import gate, scorecard

    gate.enforce(gate.check_scorecard(scorecard.build(store, run_id), gates))


@cli.command()
@click.option("--model", "model_id", default=None, help="Only runs of this model sha256 (prefix).")
@click.option("--limit", default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def runs(model_id: str | None, limit: int, as_json: bool = False) -> None:
    """List past runs."""
    from trust_tui.engine.run.store import Store
    from trust_tui.render import print_runs

    store = Store()
    rows = store.runs(limit=limit)
    if model_id:
        rows = [r for r in rows if r["model_id"].startswith(model_id)]
    if as_json:
        keys = ("id", "status", "model_name", "model_id", "bundle", "bundle_version", "profile", "started",
                "finished", "total", "generated", "cached", "skipped", "comparability_hash")
        _print_json({"format": "trust-tui-runs/1", "runs": [{k: r.get(k) for k in keys} for r in rows]})
        return
    print_runs(_console(), rows)


@cli.command()
@click.argument("run_id", default="latest")
@click.option("--require", "requirements", multiple=True, metavar="NAME>=VALUE",
              help="CI gate: exit 9 unless it holds (safety>=0.8, misuse>=90%); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="The scorecard as one JSON document on stdout (the JSON export).")
def report(run_id: str, requirements: tuple = (), as_json: bool = False) -> None:
    """Print the scorecard of a run (RUN_ID or 'latest')."""
    from trust_tui.engine.score import gate
    from trust_tui.engine.run.store import Store
    from trust_tui.render import print_scorecard

    gates = [gate.parse_requirement(text) for text in requirements]
    store = Store()
    run_ref = store.run(run_id)["id"]
    if as_json:
        _print_json(_scorecard_json(store, run_ref))
    else:
        print_scorecard(_console(), store, run_ref)
    _gate(store, run_ref, gates)


@cli.command()
@click.argument("run_id", default="latest")
@click.option("--subtask", "subtask", default=None, help="Only this sub-task (e.g. safety/jailbreak).")
@click.option("--verdict", type=click.Choice(["all", "pass", "fail", "unparseable", "uncertain", "skipped"]),
              default="all", show_default=True)
@click.option("--label", default=None, help="Only items whose scorer label is this (e.g. partial).")
@click.option("--limit", default=50, show_default=True, help="At most this many items (0: all).")
def items(run_id: str, subtask: str | None, verdict: str, label: str | None, limit: int) -> None:
    """The items behind a scorecard: verdict, label and the scorer's evidence per item."""
    from trust_tui.engine.run.store import Store
    from trust_tui.render import print_items

    store = Store()
    run = store.run(run_id)
    known = set(run.subtask_ids)
    if subtask and subtask not in known:
        _error(f"run {run['id']} has no sub-task {subtask!r} (it has: {', '.join(sorted(known))})")
    print_items(_console(), store, run["id"], subtask=subtask, verdict=verdict, label=label,
                limit=limit)


@cli.command()
@click.argument("run_id", default="latest")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output).")
@click.option("--compare", "compare_id", default=None, metavar="COMPARE_ID|latest",
              help="Export a comparison (from `trust-tui compare`) instead of a run.")
def export(run_id: str, fmt: str, output: str | None, compare_id: str | None) -> None:
    """Export a run's scorecard (or, with --compare, a comparison) as Markdown or JSON."""
    from trust_tui.engine.run.store import Store
    from trust_tui.export import markdown, report as report_mod

    store = Store()
    if compare_id is not None:
        from trust_tui.engine.compare import comparison as compare_mod
        from trust_tui.export import compare_md

        data = compare_md.build(compare_mod.load(store, compare_id))
        render = compare_md.render
    else:
        data = report_mod.build(store, run_id)
        render = markdown.render
    from trust_tui.sanitize import inert_json

    text = render(data) if fmt == "md" else inert_json(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise TrustError(f"{output}: cannot write ({exc.strerror or exc})") from None
        _console(stderr=True).print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("directories", nargs=-1, type=click.Path(path_type=Path))
@click.option("--hash", "do_hash", is_flag=True, help="Also compute sha256 fingerprints (cached).")
def models(directories: tuple[Path, ...], do_hash: bool) -> None:
    """List GGUF models (in DIRECTORIES; default: the embedded model and known model folders)."""
    from trust_tui.engine.models import discovery
    from trust_tui.engine.run.store import Store
    from trust_tui.render import print_models

    store = Store()
    found = discovery.discover(list(directories) or None)
    print_models(_console(), found, store if do_hash else None)


@cli.command()
def bundles() -> None:
    """List available bundles."""
    from trust_tui.engine import bundles as bundle_mod
    from trust_tui.render import print_bundles

    loaded, problems = [], []
    for directory in bundle_mod.available():
        try:
            loaded.append(bundle_mod.load_dir(directory))
        except TrustError as exc:
            problems.append(str(exc))
    print_bundles(_console(), loaded, problems)


@cli.command()
@click.argument("bundle")
def validate(bundle: str) -> None:
    """Validate a bundle (name or path); errors name file:line and field."""
    from trust_tui.engine import bundles as bundle_mod

    loaded = bundle_mod.load(bundle)
    items = sum(len(s.items) for s in loaded.subtasks)
    quick = len(loaded.select("quick"))
    _console().print(f"{_t(loaded.name)} {_t(loaded.version)}: valid · {len(loaded.dimensions)} dimensions · "
                     f"{len(loaded.subtasks)} sub-tasks · {items} items ({quick} in quick)")


@cli.command()
@click.argument("run_id", default="latest")
def rescore(run_id: str) -> None:
    """Score a run's cached answers again with the current scorers (generates nothing)."""
    from trust_tui.engine.run.loop import rescore as do_rescore
    from trust_tui.engine.run.store import Store

    store = Store()
    changed, unchanged = do_rescore(store, run_id)
    _console().print(f"rescored {changed} items · {unchanged} already current")


@cli.command()
@click.option("--repair/--check-only", default=True, show_default=True,
              help="Keep a damaged store aside and rebuild it (default), or only check.")
def doctor(repair: bool) -> None:
    """Check the store's integrity; a damaged one is kept aside (timestamped) and rebuilt from
    every row that can still be read."""
    from trust_tui import paths
    from trust_tui.engine.run import doctor as doctor_mod
    from trust_tui.errors import StoreError

    console = _console()
    path = paths.db_path()
    found = doctor_mod.check(path)
    if not found.exists:
        console.print(f"no store yet at {_t(path)}: nothing to check")
        return
    if found.ok:
        counts = ", ".join(f"{table} {n}" for table, n in found.counts.items())
        console.print(f"store ok: {_t(path)} ({counts})")
        return
    console.print(f"[bold red]damaged:[/] {_t(path)}: {_t('; '.join(found.problems[:3]))}", soft_wrap=True)
    if not repair:
        raise StoreError(f"{path}: the store is damaged; run `trust-tui doctor` to repair it")
    result = doctor_mod.repair(path)
    counts = ", ".join(f"{table} {n}" for table, n in result.recovered.items())
    console.print(f"kept the damaged file as {_t(result.kept_as)} (with its -wal/-shm)")
    console.print(f"fresh store at {_t(path)}; recovered ({_t(result.method)}): {counts}")
    if result.reopened:
        console.print(f"{result.reopened} items lost their answer and are pending again: "
                      "running the same command again regenerates them")


@cli.group("import")
def import_group() -> None:
    """Import a published benchmark's dataset as a bundle (kept in the user data dir)."""


@import_group.command("trustllm")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Only N records per file, stratified and seeded, for a quick audit (bundle trustllm-sN).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --sample draw.")
def import_trustllm(path: Path, sample: int | None, seed: int) -> None:
    """Import TrustLLM's dataset (PATH: its dataset/ folder or dataset.zip) as bundle 'trustllm'."""
    from rich.table import Table

    from trust_tui.engine.trustllm import importer as trustllm

    result = trustllm.import_dataset(path, sample=sample, seed=seed)
    table = Table(box=None, pad_edge=False)
    for column in ("file", "records", "imported", "skipped", "reason"):
        table.add_column(column, justify="right" if column in ("records", "imported", "skipped") else "left")
    for report in result.files:
        reasons = report.error or "; ".join(f"{reason} ({len(ix)})" for reason, ix in report.skipped.items())
        table.add_row(report.path, str(report.records), str(report.imported), str(report.skipped_count),
                      _t(reasons))
    console = _console()
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {_t(note)}")
    skipped = sum(r.skipped_count for r in result.files)
    state = "unchanged (same data)" if result.unchanged else "written"
    imported = sum(r.imported for r in result.files)
    console.print(f"{result.bundle}: {result.items} items from {imported} of {result.records} records "
                  f"({skipped} skipped) · {state} to {_t(str(result.path))} · {result.seconds:.1f} s")
    console.print(f"run it: trust-tui run --bundle {result.bundle}")


@cli.command()
@click.argument("model", required=False)
@click.option("--type", "type_name", required=True, metavar="TYPE",
              help="Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, Q3_K_M, Q2_K … (llama.cpp's names).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: <name>.<TYPE>.gguf next to MODEL, or in trust-tui's models folder).")
@click.option("--allow-requantize", is_flag=True,
              help="Quantize a file that is already quantized (the result stacks two quantizations).")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
def quantize(model: str | None, type_name: str, output: Path | None, allow_requantize: bool,
             threads: int | None) -> None:
    """Quantize MODEL (a .gguf; default: the embedded SmolLM2) to --type with llama.cpp."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trust_tui.engine.models import quantize as quantize_mod
    from trust_tui.engine.models.gguf import human_size

    source, requested, _, info = quantize_mod.plan(model, type_name, output, allow_requantize)
    console = _console()
    console.print(f"quantizing {_t(source.name)} ({info.file_type}, {human_size(info.size)}) → {requested}")
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True,
                        disable=not console.is_terminal)
    with progress:
        task = progress.add_task("tensors", total=None)
        result = quantize_mod.quantize(
            source, requested, output, allow_requantize,
            progress=lambda done, total, name: progress.update(task, completed=done, total=total),
            threads=threads)
    change = f"{100 * (result.size / result.source_size - 1):+.0f}%" if result.source_size else ""
    console.print(f"wrote {_t(str(result.output))} · {human_size(result.size)} ({change} vs source) "
                  f"· {result.seconds:.1f} s" + (" · replaced the existing file" if result.replaced else ""))
    console.print(f"tensors written: {_t(result.tensor_mix)}")
    for note in result.notes():
        console.print(f"[yellow]note:[/] {_t(note)}")
    console.print(f"compare them: trust-tui compare {_t(_quote(result.source))} {_t(_quote(result.output))}")


def _quote(path: Path) -> str:
    """A path for a command line; the embedded model is simply 'default'."""
    import shlex

    from trust_tui.engine.models.files import default_model_path

    return "default" if path == default_model_path() else shlex.quote(str(path))


from trust_tui.cli_compare import COMMANDS as _COMPARE_COMMANDS  # noqa: E402  (compare)
from trust_tui.cli_judge import COMMANDS as _JUDGE_COMMANDS  # noqa: E402  (judge, judge-check)
from trust_tui.cli_review import COMMANDS as _REVIEW_COMMANDS  # noqa: E402  (score, overrides, recheck)

for _command in (*_COMPARE_COMMANDS, *_JUDGE_COMMANDS, *_REVIEW_COMMANDS):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="trust-tui", standalone_mode=False)
    except click.exceptions.Abort:
        _error("cancelled", 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Cancelled as exc:
        _error(str(exc), exc.exit_code)
    except TrustError as exc:
        _error(str(exc), exc.exit_code)
    except sqlite3.DatabaseError as exc:
        # Raised by a read anywhere (a scorecard, a listing) when the store is damaged, locked
        # past the timeout or unreadable: one line and the way out, never a traceback.
        from trust_tui import paths
        from trust_tui.engine.run.store_sql import damaged_message, is_damaged
        from trust_tui.errors import StoreError

        path = paths.db_path()
        _error(damaged_message(path, exc) if is_damaged(exc) else f"{path}: store error ({exc})",
               StoreError.exit_code)
    except KeyboardInterrupt:
        _error("cancelled: everything finished so far is stored; run again to resume", 130)
    except BrokenPipeError:
        sys.exit(0)
