"""Rich tables for the CLI: scorecards, runs, models, bundles. Text from bundles, model files and
answers always goes through ``_t``: no Rich markup, no terminal escape sequences."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trust_tui.engine.score import metrics
from trust_tui.engine.score import scorecard as sc
from trust_tui.engine.models.gguf import human_params, human_size
from trust_tui.engine.run.store import Store
from trust_tui.sanitize import inert


def _t(value: object) -> str:
    """Outside text for a Rich line: terminal sequences removed, markup escaped, one line."""
    return escape(inert(value, single_line=True))


def console(stderr: bool = False) -> Console:
    """The CLI's console (cli.py and cli_review.py both print through it)."""
    import os
    import sys

    stream = sys.stderr if stderr else sys.stdout
    if not stream.isatty() and "COLUMNS" not in os.environ:
        # Piped (`trust-tui runs > file`, `| tee log`): Rich would wrap tables at 80 columns and
        # break names over lines; a file has no width, so lay tables out at their natural width.
        return Console(stderr=stderr, highlight=False, width=1000)
    return Console(stderr=stderr, highlight=False)


def print_json(data) -> None:
    """One machine-readable document on stdout (``--json``), terminal sequences made inert."""
    import json
    import sys

    from trust_tui.sanitize import inert_json

    sys.stdout.write(inert_json(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")
    sys.stdout.flush()


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "–"


def print_scorecard(console: Console, store: Store, run_id: int):
    """The scorecard table and its notes; returns the run's ``health.Health`` (a run whose
    answers look broken gets a warning line above and below the table)."""
    from trust_tui.engine.run.health import run_health

    card = sc.build(store, run_id)
    run = card.run
    model = store.model(run["model_id"]) or {}
    health = run_health(store, run["id"])
    title = (f"{_t(run['model_name'])} · {_t(model.get('file_type', ''))} · {_t(run['bundle'])} "
             f"{_t(run['bundle_version'])} · {_t(run['profile'])} · run {run['id']} ({_t(run['status'])})")
    if health.broken:
        print_health(console, health)
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("Dimension / sub-task")
    table.add_column("Metric")
    table.add_column("Better", justify="center")
    table.add_column("Value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    table.add_column("Unparseable", justify="right")
    table.add_column("Skipped", justify="right")
    summary = metrics.SUMMARY
    for dim in card.dimensions:
        table.add_row(f"[bold]{_t(dim.title)}[/]", "summary", "↑", f"[bold]{summary.fmt(dim.value)}[/]",
                      summary.fmt_ci(dim.ci), f"{dim.done}/{dim.total}", "", "", end_section=False)
        for sub in dim.subtasks:
            metric = metrics.for_display(sub.aggregate)
            table.add_row(
                f"  {_t(sub.title)}", _t(sub.metric),
                "↑" if metric.direction_for(sub.direction) == "higher" else "↓",
                metric.fmt(sub.value), metric.fmt_ci(sub.ci),
                f"{sub.n} {_t(sub.unit)}" if sub.unit != "items" else str(sub.n),
                str(sub.unparseable) if sub.unparseable else "", str(sub.skipped) if sub.skipped else "",
            )
        table.add_section()
    table.add_row("[bold]Overall[/]", "mean of dimensions", "↑", f"[bold]{summary.fmt(card.overall)}[/]",
                  "", "", "", "")
    console.print(table)
    from trust_tui.engine.score.verdicts import decision_note

    for sub in card.subtasks:
        note = decision_note(sub)
        if note:
            console.print(f"[dim]{_t(sub.title)}:[/] {_t(note)}", soft_wrap=True)
    from trust_tui.engine.score import review as review_mod

    for line in review_mod.lines(review_mod.gather(store, card), card):
        console.print(f"[dim]{_t(line)}[/]", soft_wrap=True)
    if run.get("template_warning"):
        console.print(f"[yellow]warning:[/] {_t(run['template_warning'])}")
    console.print(f"[dim]dimension summary: {sc.SUMMARY_DEFINITION}; overall: {sc.OVERALL_DEFINITION}. "
                  f"comparability hash {_t(run['comparability_hash'])}[/]")
    if health.broken:
        print_health(console, health)
    return health


def print_health(console: Console, health) -> None:
    console.print(f"[bold red]warning: {_t(health.problem)}[/] "
                  "[dim](the scores above describe the breakage, not the model)[/]", soft_wrap=True)


def print_items(console: Console, store: Store, run_id: int, subtask: str | None = None,
                verdict: str = "all", label: str | None = None, limit: int = 50) -> None:
    """One line per item: uid, verdict, label, the scorer's reason (its rule and evidence), answer."""
    from trust_tui.engine.score.verdicts import run_items

    rows, verdicts, _ = run_items(store, run_id, lambda sub: subtask is None or sub == subtask)
    table = Table(title=f"run {run_id} items", title_justify="left", show_lines=True)
    for column in ("item", "verdict", "label", "reason", "answer"):
        table.add_column(column, overflow="fold")
    shown = total = 0
    for uid, row in rows.items():
        got = verdicts.get(uid, "pending")
        if verdict != "all" and got != verdict:
            continue
        if label is not None and (row.get("score_label") or "") != label:
            continue
        total += 1
        if limit and shown >= limit:
            continue
        shown += 1
        answer = inert(row.get("answer") or row.get("reason") or "", single_line=True).strip()
        table.add_row(_t(uid), got, _t(row.get("score_label") or ""),
                      _t(row.get("score_reason") or row.get("reason") or ""),
                      escape(answer[:160] + ("…" if len(answer) > 160 else "")))
    if not total:
        console.print("no items match")
        return
    console.print(table)
    if shown < total:
        console.print(f"[dim]showing {shown} of {total}; --limit 0 shows all[/]")


def print_runs(console: Console, rows: list[dict]) -> None:
    table = Table(title="Runs", title_justify="left")
    for column in ("id", "started", "model", "bundle", "profile", "status", "items", "generated",
                   "cached", "skipped", "wall"):
        table.add_column(column, justify="right" if column in ("id", "items", "generated", "cached", "skipped", "wall") else "left")
    for row in rows:
        table.add_row(str(row["id"]), _when(row["started"]), _t(row["model_name"] or ""),
                      f"{_t(row['bundle'])} {_t(row['bundle_version'])}", _t(row["profile"]), _t(row["status"]),
                      str(row["total"]), str(row["generated"]), str(row["cached"]),
                      str(row["skipped"]), f"{row['wall_seconds'] or 0:.1f}s")
    if not rows:
        console.print("no runs yet: start one with `trust-tui run`")
        return
    console.print(table)


def print_models(console: Console, found: list, store: Store | None) -> None:
    from trust_tui.engine.models import gguf, files as models
    from trust_tui.errors import TrustError

    table = Table(title="GGUF models", title_justify="left")
    for column in ("name", "source", "architecture", "parameters", "quantization", "size",
                   "context", "chat template", "sha256", "path"):
        table.add_column(column)
    for entry in found:
        try:
            info = gguf.read_info(entry.path)
        except TrustError as exc:
            table.add_row(_t(entry.name), _t(entry.source), "[red]unreadable[/]", "", "", "", "", "",
                          "", _t(exc))
            continue
        digest = models.fingerprint(entry.path, store)[:12] if store else ""
        table.add_row(_t(entry.name), _t(entry.source), _t(info.architecture), human_params(info.parameters),
                      _t(info.file_type), human_size(info.size), str(info.context_length or "?"),
                      "yes" if info.has_chat_template else "[yellow]no[/]", digest, _t(entry.path))
    if not found:
        console.print("no GGUF files found (pass folders: `trust-tui models ~/models`)")
        return
    console.print(table)


def print_bundles(console: Console, loaded: list, problems: list[str]) -> None:
    table = Table(title="Bundles", title_justify="left")
    for column in ("name", "version", "dimensions", "sub-tasks", "items", "quick", "license", "path"):
        table.add_column(column)
    for bundle in loaded:
        table.add_row(_t(bundle.name), _t(bundle.version), str(len(bundle.dimensions)), str(len(bundle.subtasks)),
                      str(sum(len(s.items) for s in bundle.subtasks)), str(len(bundle.select("quick"))),
                      _t(bundle.license), _t(bundle.path))
    console.print(table)
    for problem in problems:
        console.print(f"[red]invalid:[/] {_t(problem)}")
