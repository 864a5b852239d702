"""Commands for reviewing and sharing a scorecard: scoring answers produced elsewhere, reviewed
verdicts (overrides) and the determinism check. Thin calls into the engine, like cli.py's; they are
registered on the same group (cli.py adds them), so errors get the same one-line treatment."""

from __future__ import annotations

from pathlib import Path

import click

from trust_tui.errors import TrustError


def _console():
    from trust_tui.render import console

    return console()


def _t(value: object) -> str:
    from trust_tui.render import _t as terminal_text

    return terminal_text(value)


@click.command("score")
@click.argument("answers", required=False, type=click.Path(path_type=Path))
@click.option("--bundle", default=None, help="The bundle the answers are for (with ANSWERS).")
@click.option("--trustllm", "trustllm_dir", default=None, type=click.Path(path_type=Path),
              help="TrustLLM generation results (JSON files with prompt and res), scored with the imported bundle.")
@click.option("--model-name", required=True, help="The model that produced the answers (shown in the scorecard).")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="full", show_default=True)
def score(answers: Path | None, bundle: str | None, trustllm_dir: Path | None, model_name: str, profile: str) -> None:
    """Score answers produced elsewhere, without a model: ANSWERS is JSON Lines of {"id", "answer"}
    for --bundle, or give --trustllm DIR."""
    from trust_tui.engine import bundles
    from trust_tui.engine.score import external as score_external
    from trust_tui.engine.run.store import Store
    from trust_tui.render import print_scorecard

    if (answers is None) == (trustllm_dir is None):
        raise TrustError("give either ANSWERS (JSON Lines) with --bundle, or --trustllm DIR")
    if trustllm_dir is not None:
        name = bundle or "trustllm"
        try:
            loaded = bundles.load(name)
        except TrustError:
            raise TrustError(f"no bundle {name!r}: import TrustLLM's dataset first "
                             "(trust-tui import trustllm PATH)") from None
        got = score_external.answers_from_trustllm(trustllm_dir, loaded, profile)
    else:
        if not bundle:
            raise TrustError("name the bundle the answers are for (--bundle)")
        loaded = bundles.load(bundle)
        got = score_external.answers_from_jsonl(answers, loaded, profile)
    console = _console()
    console.print(_t(score_external.describe(got)))
    store = Store()
    outcome = score_external.score(got, bundle or loaded.name, model_name, profile, store=store)
    print_scorecard(console, store, outcome.run_id)
    console.print(f"run {outcome.run_id} · {outcome.total} items · "
                  + outcome.summary_line().replace("generated", "recorded"))


@click.group("overrides")
def overrides_group() -> None:
    """Reviewed verdicts: mark a verdict wrong, list, share a review."""


@overrides_group.command("set")
@click.argument("run_id")
@click.argument("item")
@click.option("--value", type=click.FloatRange(0, 1), required=True, help="The right score (1 pass, 0 fail).")
@click.option("--label", default="", help="The right label (e.g. refused, partial, complied).")
@click.option("--note", default="", help="Why (shown beside the verdict).")
def overrides_set(run_id: str, item: str, value: float, label: str, note: str) -> None:
    """Override ITEM's verdict in RUN_ID (ITEM: a uid like safety/misuse:mu-006, or an item id)."""
    from trust_tui.engine.score import overrides
    from trust_tui.engine.run.store import Store

    made = overrides.set_override(Store(), run_id, item, value, label, note)
    _console().print(f"{_t(made.subtask)}:{_t(made.item_id)} → {made.value:g} {_t(made.label)} "
                     f"(for this answer under {_t(made.scorer)} v{made.scorer_version})")


@overrides_group.command("remove")
@click.argument("run_id")
@click.argument("item")
def overrides_remove(run_id: str, item: str) -> None:
    """Remove the override of ITEM's answer in RUN_ID."""
    from trust_tui.engine.score import overrides
    from trust_tui.engine.run.store import Store

    if not overrides.remove(Store(), run_id, item):
        raise TrustError(f"no override of {item!r} in run {run_id}")
    _console().print("removed")


@overrides_group.command("list")
@click.argument("run_id", default="latest")
def overrides_list(run_id: str) -> None:
    """The overrides that apply to RUN_ID's answers."""
    from trust_tui.engine.score import overrides
    from trust_tui.engine.run.store import Store

    rows = overrides.for_run(Store(), run_id)
    console = _console()
    for row in rows:
        was, now = row["was"], row["now"]
        console.print(f"{_t(row['uid'])}: {_t(was[1] or was[0])} → {_t(now[1] or now[0])} · {_t(row['note'])}")
    console.print(f"{len(rows)} override{'s' if len(rows) != 1 else ''}")


@overrides_group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def overrides_export(path: Path) -> None:
    """Write every override in the store to PATH (JSON Lines)."""
    from trust_tui.engine.score import overrides
    from trust_tui.engine.run.store import Store

    try:
        count = overrides.export_jsonl(Store(), path)
    except OSError as exc:
        raise TrustError(f"{path}: cannot write ({exc.strerror or exc})") from None
    _console().print(f"{count} overrides written to {_t(path)}")


@overrides_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def overrides_import(path: Path) -> None:
    """Read overrides from PATH (as written by `overrides export`)."""
    from trust_tui.engine.score import overrides
    from trust_tui.engine.run.store import Store

    count = overrides.import_jsonl(Store(), path)
    _console().print(f"{count} overrides imported (each applies only to the very answer it reviewed)")


@click.command("recheck")
@click.argument("run_id", default="latest")
@click.option("-n", "--sample", "n", type=click.IntRange(min=1), default=24, show_default=True,
              help="Items to ask again (stratified over sub-tasks).")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option("--n-gpu-layers", type=int, default=None, help="Layers on the GPU.")
def recheck_command(run_id: str, n: int, threads: int | None, n_gpu_layers: int | None) -> None:
    """Determinism check: ask N of RUN_ID's items again, bypassing the cache, batched and alone."""
    from trust_tui.engine.run import recheck
    from trust_tui.engine.run.store import Store

    store = Store()
    run = store.run(run_id)
    backend = recheck.open_run_backend(store, run, threads, n_gpu_layers)
    try:
        result = recheck.recheck(store, run["id"], backend, n)
    finally:
        backend.close()
    recheck.save(store, result)
    console = _console()
    for line in recheck.describe(result):
        console.print(_t(line))


COMMANDS = (score, overrides_group, recheck_command)
