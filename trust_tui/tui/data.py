"""Read-side helpers: what the screens show, computed from the engine and the store.

Nothing here writes results (the run loop is the only writer). Engine modules are imported
inside the functions, so importing the app stays fast; these functions run in worker threads
(or, for small reads, on the UI thread with the UI's own store connection).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable



def __getattr__(name: str):
    """``DIMENSION_ORDER`` and ``DIMENSION_TITLES`` are the engine's (types.py), read when first
    asked for: importing the app must not import the engine (tests/tui/test_comfort.py)."""
    if name in ("DIMENSION_ORDER", "DIMENSION_TITLES"):
        from trust_tui.engine import types

        return types.DIMENSIONS if name == "DIMENSION_ORDER" else types.DIMENSION_TITLES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ModelRow:
    """One line of the models screen."""

    path: Path
    name: str
    source: str
    quant: str = ""
    size: int = 0
    parameters: int = 0
    architecture: str = ""
    context_length: int | None = None
    has_chat_template: bool = False
    model_id: str | None = None  # the sha256, when the store has already fingerprinted the file
    last_score: float | None = None
    last_when: float | None = None
    last_run_id: int | None = None
    error: str = ""
    provenance: str = ""  # what the GGUF says of its origin (quantizer, imatrix ...), when it says anything

    @property
    def key(self) -> str:
        return str(self.path)


@dataclass
class HistoryRow:
    run: dict
    overall: float | None = None
    finished: int = 0


# --------------------------------------------------------------------------- formatting


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "–"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def day(timestamp: float | None) -> str:
    if not timestamp:
        return "–"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d")


def percent(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.1f}%"


def duration(seconds: float | None) -> str:
    from trust_tui.engine.run.progress import format_duration

    return format_duration(seconds)


def home_short(path: Path | str) -> str:
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + "/")):
        return "~" + text[len(home):]
    return text


# --------------------------------------------------------------------------- models


def discover_models(extra: Iterable[Path] = (),
                    discover: Callable[[], list] | None = None) -> list:
    """Every known model (``discovery.Found``), the ones opened by path first."""
    from trust_tui.engine.models import discovery

    found = [discovery.Found(Path(p).expanduser(), Path(p).name, "path") for p in extra]
    found.extend(discover() if discover else discovery.discover())
    unique, seen = [], set()
    for entry in found:
        try:
            key = entry.path.resolve()
        except OSError:
            key = entry.path
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def model_id_for(store, path: Path) -> str | None:
    """The file's sha256 if the store fingerprinted it before (no hashing here)."""
    for candidate in (path.expanduser().resolve(), path.expanduser()):
        try:
            stat = candidate.stat()
        except OSError:
            return None
        digest = store.cached_hash(candidate, stat.st_size, stat.st_mtime_ns)
        if digest:
            return digest
    return None


def last_result(store, model_id: str) -> tuple[float | None, float | None, int | None]:
    """(overall score, when, run id) of the model's latest run with any score."""
    from trust_tui.engine.score import scorecard

    for run in store.runs(model_id, limit=20):
        card = scorecard.build(store, run["id"])
        value = card.overall  # the engine's overall (scorecard.overall), as the exports show it
        if value is not None:
            return value, run["finished"] or run["started"], run["id"]
    return None, None, None


def read_model_row(entry, store) -> ModelRow:
    from trust_tui.engine.models import gguf, provenance
    from trust_tui.errors import TrustError

    try:
        info = gguf.read_info(entry.path)
    except TrustError as exc:
        return ModelRow(entry.path, entry.name, entry.source, error=str(exc))
    model_id = model_id_for(store, entry.path)
    score = when_ts = run_id = None
    if model_id:
        score, when_ts, run_id = last_result(store, model_id)
    return ModelRow(
        path=entry.path, name=entry.name, source=entry.source, quant=info.file_type,
        size=info.size, parameters=info.parameters, architecture=info.architecture,
        context_length=info.context_length, has_chat_template=info.has_chat_template,
        model_id=model_id, last_score=score, last_when=when_ts, last_run_id=run_id,
        provenance=" · ".join(f"{label}: {value}" for label, value in provenance.of_info(info).fields),
    )


def human_size(n: int) -> str:
    from trust_tui.engine.models.gguf import human_size as fmt

    return fmt(n) if n else "–"


def human_params(n: int) -> str:
    from trust_tui.engine.models.gguf import human_params as fmt

    return fmt(n) if n else "–"


# --------------------------------------------------------------------------- history


def history(store, model_id: str | None, path: Path | None) -> list[HistoryRow]:
    """Past runs of one model (by fingerprint, else by file path), newest first; all runs
    when neither is given."""
    from trust_tui.engine.score import scorecard

    if model_id:
        runs = store.runs(model_id)
    elif path is not None:
        wanted = {str(path), str(path.expanduser().resolve())}
        runs = [r for r in store.runs() if r.get("model_path") in wanted]
    else:
        runs = store.runs()
    rows = []
    for run in runs:
        card = scorecard.build(store, run["id"])
        finished = sum(s.done + s.skipped for s in card.subtasks)
        rows.append(HistoryRow(run=run, overall=card.overall, finished=finished))
    return rows


# --------------------------------------------------------------------------- run setup


def bundle_names(current: str) -> list[str]:
    from trust_tui.engine import bundles

    names = [d.name for d in bundles.available()]
    if current not in names:
        names.insert(0, current)
    return list(dict.fromkeys(names))


def estimate(store, model_id: str | None, workload: list):
    """Time for ``workload`` from the throughput of past runs (the engine's estimate, budget.py)."""
    from trust_tui.engine.run.budget import estimate as engine_estimate

    return engine_estimate(store, model_id, workload)


# --------------------------------------------------------------------------- drill-down

def verdicts(rows: list[dict], snapshot: dict) -> dict[str, str]:
    """Per item: the engine's verdict (trust_tui.engine.score.verdicts)."""
    from trust_tui.engine.score.verdicts import item_verdicts

    return item_verdicts(rows, snapshot)
