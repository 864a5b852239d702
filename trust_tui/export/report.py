"""The scorecard as one plain dict: the JSON export, and the input of the Markdown export."""

from __future__ import annotations

import datetime as dt
import json
import math
import shlex
from typing import Any, Mapping

import trust_tui
from trust_tui.engine.score import metrics
from trust_tui.engine.score import scorecard as sc
from trust_tui.engine.models.gguf import human_params, human_size
from trust_tui.engine.run.health import run_health
from trust_tui.engine.run.records import RunRecord
from trust_tui.engine.run.store import Store


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(value, 6)


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return [round(ci[0], 6), round(ci[1], 6)] if ci else None


def reproduce_command(run: Mapping[str, Any]) -> str:
    spec = RunRecord.of(run).spec_info
    parts = ["trust-tui", "run"]
    if spec.get("model_path"):
        parts.append(spec["model_path"])
    parts += ["--bundle", spec["bundle"], "--profile", spec["profile"]]
    for dim in spec.get("dimensions") or []:
        parts += ["--dimension", dim]
    for sub in spec.get("subtasks") or []:
        parts += ["--subtask", sub]
    if spec.get("per_subtask"):
        parts += ["--per-subtask", str(spec["per_subtask"])]
    generation = spec.get("generation") or {}
    if "temperature" in generation:
        parts += ["--temperature", str(generation["temperature"])]
    if "seed" in generation:
        parts += ["--seed", str(generation["seed"])]
    return " ".join(shlex.quote(p) for p in parts)


def build(store: Store, run_ref: int | str) -> dict[str, Any]:
    from trust_tui.engine.score import review as review_mod

    card = sc.build(store, run_ref)
    run = card.run
    model = store.model(run["model_id"]) or {}
    context = run.context_info
    backend = run.backend_settings
    snapshots = run.snapshots
    tok_s = run["tokens_generated"] / run["gen_seconds"] if run["gen_seconds"] else None
    dimensions = []
    for dim in card.dimensions:
        dimensions.append({
            "id": dim.id, "title": dim.title, "aggregate": metrics.SUMMARY.name,
            "scale": metrics.SUMMARY.scale.name, "value": _num(dim.value), "ci": _ci(dim.ci),
            "done": dim.done, "total": dim.total,
            "subtasks": [_subtask(s) for s in dim.subtasks],
        })
    return {
        "format": "trust-tui-scorecard/1",
        "trust_tui_version": trust_tui.__version__,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "run": {
            "id": run["id"], "status": run["status"],
            "started": _iso(run["started"]), "finished": _iso(run["finished"]),
            "wall_seconds": _num(run["wall_seconds"]), "total": run["total"],
            "generated": run["generated"], "cached": run["cached"], "skipped": run["skipped"],
            "tokens_generated": run["tokens_generated"], "gen_seconds": _num(run["gen_seconds"]),
            "tokens_per_second": _num(tok_s),
        },
        "model": {
            "file_name": model.get("file_name") or run["model_name"],
            "sha256": run["model_id"], "quantization": model.get("file_type"),
            "tensor_mix": model.get("tensor_mix"), "size_bytes": model.get("size"),
            "size": human_size(model["size"]) if model.get("size") else None,
            "parameters": model.get("parameters"),
            "parameters_human": human_params(model["parameters"]) if model.get("parameters") else None,
            "architecture": model.get("architecture"),
            "chat_template": run["template_source"], "template_warning": run["template_warning"] or None,
        },
        "bundle": {"name": run["bundle"], "version": run["bundle_version"],
                   "content_hash": run["bundle_hash"], "profile": run["profile"]},
        "hardware": context,
        "backend": backend,
        "comparability_hash": run["comparability_hash"],
        "manifest": {
            "bundle": f"{run['bundle']} {run['bundle_version']}",
            "bundle_content_sha256": run["bundle_hash"],
            "model_sha256": run["model_id"],
            "llama_cpp_python": context.get("llama_cpp_python"),
            "llama_cpp_system_info": context.get("system_info"),
            "scorers": {s["id"]: f"{s['scorer']} v{s['scorer_version']}" for s in snapshots},
            "generation": {s["id"]: s["generation"] for s in snapshots},
        },
        "summary_definition": sc.SUMMARY_DEFINITION,
        "overall": {"value": _num(card.overall), "definition": sc.OVERALL_DEFINITION},
        # Set when the answers look broken (health.py): the scores then describe the breakage.
        "answers_warning": run_health(store, run["id"]).problem or None,
        "dimensions": dimensions,
        # References (TrustLLM's published figures, the user's own runs), the determinism check,
        # reviewed verdicts and the model file's provenance (engine/score/review.py).
        "review": review_mod.gather(store, card).as_dict(),
        # The judge's agreement with the rules on the answers both read (None: no judge, no audit).
        "judge_audit": _judge_audit(store, run["id"]),
        "reproduce": reproduce_command(run),
    }


def _judge_audit(store: Store, run_id: int) -> dict[str, Any] | None:
    from trust_tui.engine.judge.overlay import audit_summary

    summary = audit_summary(store, run_id)
    return json.loads(json.dumps(summary, default=str)) if summary else None


def _subtask(s: sc.SubtaskResult) -> dict[str, Any]:
    extras = json.loads(json.dumps(s.extras, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
    return {
        "id": s.id, "title": s.title, "metric": s.metric, "aggregate": s.aggregate,
        "scale": s.measured_by.scale.name, "direction": s.direction, "value": _num(s.value), "ci": _ci(s.ci), "n": s.n,
        "unit": s.unit, "total": s.total, "done": s.done, "unparseable": s.unparseable,
        "partial": getattr(s, "partial", 0), "uncertain": getattr(s, "uncertain", 0),
        "skipped": s.skipped, "pending": s.pending, "in_summary": s.summary,
        "definition": s.definition, "trustllm": s.trustllm, "description": s.description,
        "scorer": f"{s.scorer} v{s.scorer_version}", "extras": extras,
    }


def _iso(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")
