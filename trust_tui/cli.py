"""The command line. Each command is a thin call into the engine (trust_tui.engine.api et al.).

Errors from the engine (``TrustError``) become one red line and a non-zero exit; Ctrl-C keeps
everything finished and exits 130.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import click

from trust_tui.errors import Cancelled, TrustError


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _error(message: str, code: int = 1) -> None:
    from rich.markup import escape

    _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
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
@click.option("--ctx", "n_ctx", type=int, default=None, help="Context tokens per sequence (default 2048).")
@click.option("--parallel", type=int, default=None, help="Sequences decoded together (default: chosen from the hardware).")
@click.option("--server", default=None, help="Base URL of an OpenAI-compatible server instead of a model file.")
@click.option("--temperature", type=float, default=None, help="Sampling temperature for every sub-task (default greedy).")
@click.option("--seed", type=int, default=None, help="Sampling seed for every sub-task.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(model, bundle, profile, dimensions, subtasks, n_gpu_layers, threads, n_ctx, parallel,
        server, temperature, seed, quiet) -> None:
    """Run a bundle on MODEL (a .gguf path; default: the embedded SmolLM2) and print the scorecard."""
    from trust_tui.engine import api
    from trust_tui.engine.run import RunSpec
    from trust_tui.engine.store import Store
    from trust_tui.progress import RichProgress

    generation = {}
    if temperature is not None:
        generation["temperature"] = temperature
    if seed is not None:
        generation["seed"] = seed
    spec = RunSpec(bundle=bundle, profile=profile, dimensions=tuple(dimensions),
                   subtasks=tuple(subtasks), generation=generation)
    options = api.BackendOptions(n_ctx=n_ctx, threads=threads, n_gpu_layers=n_gpu_layers,
                                 parallel=parallel, server=server)
    console = _console()
    store = Store()
    cancel = threading.Event()
    progress = RichProgress(console, enabled=not quiet)
    try:
        with progress:
            outcome = api.run(model, spec, options, store=store, listener=progress.on_event,
                              cancel=cancel, on_stage=progress.stage)
    except KeyboardInterrupt:
        cancel.set()
        raise Cancelled("cancelled: everything finished so far is stored; run again to resume") from None
    from trust_tui.render import print_scorecard

    print_scorecard(console, store, outcome.run_id)
    rate = f" · {outcome.tokens_per_second:.0f} tok/s" if outcome.tokens_generated else ""
    console.print(f"run {outcome.run_id} · {outcome.total} items · {outcome.wall_seconds:.1f} s{rate}")
    console.print(outcome.summary_line())


@cli.command()
@click.option("--model", "model_id", default=None, help="Only runs of this model sha256 (prefix).")
@click.option("--limit", default=30, show_default=True)
def runs(model_id: str | None, limit: int) -> None:
    """List past runs."""
    from trust_tui.engine.store import Store
    from trust_tui.render import print_runs

    store = Store()
    rows = store.runs(limit=limit)
    if model_id:
        rows = [r for r in rows if r["model_id"].startswith(model_id)]
    print_runs(_console(), rows)


@cli.command()
@click.argument("run_id", default="latest")
def report(run_id: str) -> None:
    """Print the scorecard of a run (RUN_ID or 'latest')."""
    from trust_tui.engine.store import Store
    from trust_tui.render import print_scorecard

    store = Store()
    print_scorecard(_console(), store, store.run(run_id)["id"])


@cli.command()
@click.argument("run_id", default="latest")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: standard output).")
def export(run_id: str, fmt: str, output: str | None) -> None:
    """Export a run's scorecard as Markdown or JSON."""
    from trust_tui.engine.store import Store
    from trust_tui.export import markdown, report as report_mod

    store = Store()
    data = report_mod.build(store, run_id)
    text = markdown.render(data) if fmt == "md" else json.dumps(data, indent=2, ensure_ascii=False) + "\n"
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
    from trust_tui.engine import discovery
    from trust_tui.engine.store import Store
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
    _console().print(f"{loaded.name} {loaded.version}: valid · {len(loaded.dimensions)} dimensions · "
                     f"{len(loaded.subtasks)} sub-tasks · {items} items ({quick} in quick)")


@cli.command()
@click.argument("run_id", default="latest")
def rescore(run_id: str) -> None:
    """Score a run's cached answers again with the current scorers (generates nothing)."""
    from trust_tui.engine.run import rescore as do_rescore
    from trust_tui.engine.store import Store

    store = Store()
    changed, unchanged = do_rescore(store, run_id)
    _console().print(f"rescored {changed} items · {unchanged} already current")


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
    from rich.markup import escape
    from rich.table import Table

    from trust_tui.importers import trustllm

    result = trustllm.import_dataset(path, sample=sample, seed=seed)
    table = Table(box=None, pad_edge=False)
    for column in ("file", "records", "imported", "skipped", "reason"):
        table.add_column(column, justify="right" if column in ("records", "imported", "skipped") else "left")
    for report in result.files:
        reasons = report.error or "; ".join(f"{reason} ({len(ix)})" for reason, ix in report.skipped.items())
        table.add_row(report.path, str(report.records), str(report.imported), str(report.skipped_count),
                      escape(reasons))
    console = _console()
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    skipped = sum(r.skipped_count for r in result.files)
    state = "unchanged (same data)" if result.unchanged else "written"
    console.print(f"{result.bundle}: {result.items} items from {result.records} records "
                  f"({skipped} skipped) · {state} to {escape(str(result.path))} · {result.seconds:.1f} s")
    console.print(f"run it: trust-tui run --bundle {result.bundle}")


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
    except KeyboardInterrupt:
        _error("cancelled: everything finished so far is stored; run again to resume", 130)
    except BrokenPipeError:
        sys.exit(0)
