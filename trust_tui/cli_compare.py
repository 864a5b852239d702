"""`trust-tui compare`: runs or models item by item. A thin call into trust_tui.engine.compare, like
cli.py's commands; registered on the same group (cli.py adds it)."""

from __future__ import annotations

import threading

import click

from trust_tui.errors import Cancelled


def _console(stderr: bool = False):
    from trust_tui.render import console

    return console(stderr)


def _t(value: object) -> str:
    from trust_tui.render import _t as terminal_text

    return terminal_text(value)


@click.command("compare")
@click.argument("refs", nargs=-1, required=True, metavar="A B [C…]")
@click.option("--bundle", default=None, help="Bundle for models given as paths (default: a given run's, else trust-core).")
@click.option("--profile", type=click.Choice(["quick", "full"]), default=None,
              help="Profile for models given as paths (default: a given run's, else quick).")
@click.option("--dimension", "dimensions", multiple=True, help="Only this dimension, for models given as paths (repeatable).")
@click.option("--subtask", "subtasks", multiple=True, help="Only this sub-task, for models given as paths (repeatable).")
@click.option("--reference", default="largest", show_default=True,
              help="The reference: 'largest' (model file), 'first', or a position (1, 2 …).")
@click.option("--force", is_flag=True, help="Compare runs that are not comparable (other bundle, scorer or settings); the export says so.")
@click.option("--agreement-items", type=click.IntRange(min=0), default=None,
              help="Items for next-token agreement (default 32; 0: skip, it runs both models).")
@click.option("--agreement-tokens", type=click.IntRange(min=1), default=None,
              help="Answer tokens per item for next-token agreement (default 32).")
@click.option("--speed/--no-speed", default=True, show_default=True,
              help="Measure prompt and generation speed of each model file (a few seconds each).")
@click.option("--n-gpu-layers", type=int, default=None, help="Layers on the GPU (-1: all).")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--ctx", "n_ctx", type=int, default=None, help="Context tokens per sequence (default: the run's longest prompt + its max_tokens, rounded up to 256; recorded with the run).")
@click.option("--parallel", type=int, default=None, help="Sequences decoded together (default: chosen from the hardware).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--max-drop", "max_drops", multiple=True, metavar="NAME=POINTS",
              help="CI gate: exit 9 if NAME (a dimension or sub-task) falls more than POINTS in a variant; repeatable.")
@click.option("--max-flips", type=click.IntRange(min=0), default=None,
              help="CI gate: exit 9 if more items than this go from pass to fail in a variant.")
@click.option("--json", "as_json", is_flag=True, help="The comparison as one JSON document on stdout (the JSON export).")
def compare(refs, bundle, profile, dimensions, subtasks, reference, force, agreement_items,
            agreement_tokens, speed, n_gpu_layers, threads, n_ctx, parallel, quiet,
            max_drops=(), max_flips=None, as_json=False) -> None:
    """Compare runs or models item by item: A B [C…] are run ids or .gguf paths ('default': the
    embedded model); models are run first (from cache where possible) with the same bundle."""
    from trust_tui.engine.compare import agreement as agreement_mod
    from trust_tui.engine.run import api
    from trust_tui.engine.compare import comparison as compare_mod
    from trust_tui.engine.run.loop import RunSpec
    from trust_tui.engine.run.store import Store
    from trust_tui.progress import RichProgress

    spec = None
    if bundle or profile or dimensions or subtasks:
        spec = RunSpec(bundle=bundle or "trust-core", profile=profile or "quick",
                       dimensions=tuple(dimensions), subtasks=tuple(subtasks))
    options = api.BackendOptions(n_ctx=n_ctx, threads=threads, n_gpu_layers=n_gpu_layers, parallel=parallel)
    from trust_tui.engine.score import gate

    drops = [gate.parse_max_drop(text) for text in max_drops]
    console = _console(stderr=as_json)
    store = Store()
    cancel = threading.Event()
    progress = RichProgress(console, enabled=not quiet)

    def agreement_progress(done: int, total: int) -> None:
        progress.progress.update(progress.task, completed=done, total=total)

    try:
        with progress:
            result = compare_mod.compare(
                store, list(refs), spec, options, reference=reference, force=force,
                agreement_items=agreement_mod.DEFAULT_ITEMS if agreement_items is None else agreement_items,
                agreement_tokens=agreement_tokens or agreement_mod.DEFAULT_TOKENS, speed=speed,
                listener=progress.on_event, on_stage=progress.stage,
                agreement_progress=agreement_progress, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        raise Cancelled("cancelled: finished items are stored; run the same command again to resume") from None
    _print_comparison(console, result)
    if as_json:
        from trust_tui.export import compare_md

        from trust_tui.render import print_json

        print_json(compare_md.build(result))
    if drops or max_flips is not None:
        gate.enforce(gate.check_comparison(result, drops, max_flips))


def _print_comparison(console, result) -> None:
    from rich.table import Table

    from trust_tui.engine.compare import agreement as agreement_mod
    from trust_tui.engine.models.gguf import human_size
    from trust_tui.engine.score import metrics

    labels = [v.label for v in result.variants]
    if result.forced:
        console.print("[bold yellow]warning:[/] compared with --force: " + _t("; ".join(result.problems)))
    table = Table(title=f"comparison {result.id} · reference {_t(labels[0])} ({result.reference_rule})",
                  title_justify="left")
    table.add_column("Dimension / sub-task")
    table.add_column(_t(labels[0]), justify="right")
    for label in labels[1:]:
        table.add_column(_t(label), justify="right")
        table.add_column("Δ", justify="right")
        table.add_column("p (Holm)", justify="right")

    def add(row, name: str, bold: bool = False) -> None:
        metric = metrics.for_display(row.aggregate)
        cells = [f"[bold]{name}[/]" if bold else f"  {name}", metric.fmt(row.cells[0].value)]
        for cell, delta in zip(row.cells[1:], row.deltas[1:]):
            shown = "–"
            if delta.value is not None:
                shown = metric.fmt_delta(delta.value)
                colour = {True: "green", False: "red"}.get(delta.better)
                shown = f"[{colour}]{shown}[/]" if colour else shown
                shown += "*" if delta.note else ""
            p = delta.test
            ptext = "–" if p.p is None else f"{p.p:.3f} ({p.p_holm:.3f})" if p.p_holm is not None else f"{p.p:.3f}"
            ptext += "†" if p.too_small else ""
            cells += [metric.fmt(cell.value), shown, ptext]
        table.add_row(*cells)

    for dim in result.dimensions:
        add(dim, _t(dim.title), bold=True)
        for sub in result.subtasks:
            if sub.dimension == dim.id:
                add(sub, _t(sub.title))
        table.add_section()
    console.print(table)
    console.print("[dim]Δ: variant − reference (pt: percentage points, for rates; other metrics in their "
                  "own decimals), on the units readable in both "
                  "runs; p: exact McNemar or sign-flip permutation per sub-task, sign-flip permutation per "
                  "dimension; Holm-adjusted in brackets; †: no outcome could reach p < 0.05[/]")
    for row in result.dimensions + result.subtasks:
        for label, delta in zip(labels[1:], row.deltas[1:]):
            if delta.note:
                console.print(f"[dim]* {_t(row.title)} ({_t(label)}): {_t(delta.note)}[/]")
    for row in result.dimensions + result.subtasks:
        for label, delta in zip(labels[1:], row.deltas[1:]):
            if delta.test.too_small:
                console.print(f"[dim]† {_t(row.title)} ({_t(label)}): {_t(delta.test.too_small)}[/]")
    for index, variant in enumerate(result.variants):
        c = variant.cost
        parts = [human_size(c["file_size"]) if c.get("file_size") else "size ?",
                 (f"load {c['load_seconds']:.2f} s" if c.get("load_seconds") is not None
                  # a rerun answered from the cache renders prompts from the vocabulary: no weights
                  else "weights not loaded" if not c.get("run_tok_s") else "load ?"),
                 f"prompt {c['prompt_tok_s']:.0f} tok/s" if c.get("prompt_tok_s") else "prompt ?",
                 f"gen {c['gen_tok_s']:.0f} tok/s" if c.get("gen_tok_s") else "gen ?",
                 f"run {c['run_tok_s']:.0f} tok/s" if c.get("run_tok_s") else "run cached",
                 f"peak {c['peak_rss_mb']:.0f} MB" if c.get("peak_rss_mb") else "peak ?"]
        line = f"{_t(variant.label)} (run {variant.run['id']}): " + " · ".join(parts)
        if index:
            same = result.identical[index] or {}
            flips = [f for f in result.flips if f.variant == index]
            worse = sum(1 for f in flips if f.worse)
            identical = f"{100 * same['share']:.1f}%" if same.get("share") is not None else "–"
            line += (f"\n  identical answers {identical} · {_t(agreement_mod.describe(result.agreement[index]))}"
                     f" · flipped {worse} pass→fail, {len(flips) - worse} fail→pass")
        console.print(line)
    console.print(f"export: trust-tui export --compare {result.id} --format md")


COMMANDS = [compare]
