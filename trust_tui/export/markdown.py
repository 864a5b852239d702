"""A scorecard in Markdown that a person can paste into a forum post or a GitHub issue."""

from __future__ import annotations

from typing import Any

from trust_tui.engine.scorecard import fmt, fmt_ci


def _cell(text: Any) -> str:
    """Model-controlled text must not break the table (pipes, newlines, HTML)."""
    value = "" if text is None else str(text)
    return (value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
            .replace("<", "&lt;").replace(">", "&gt;"))


def _value(entry: dict) -> str:
    agg = entry.get("aggregate", "proportion")
    text = fmt(entry["value"], agg)
    ci = fmt_ci(tuple(entry["ci"]) if entry.get("ci") else None, agg)
    return f"{text} {ci}".strip()


def render(report: dict) -> str:
    model, bundle, run, hw = report["model"], report["bundle"], report["run"], report["hardware"]
    lines = [
        f"# trust-tui scorecard: {model['file_name']}",
        "",
        f"- **Model:** `{model['file_name']}` · sha256 `{model['sha256'][:16]}` · "
        f"{model.get('quantization') or '?'} · {model.get('size') or '?'} · "
        f"{model.get('parameters_human') or '?'} parameters · {model.get('architecture') or '?'}",
        f"- **Bundle:** {bundle['name']} {bundle['version']} · profile `{bundle['profile']}` · "
        f"comparability hash `{report['comparability_hash']}`",
        f"- **Run:** #{run['id']} · {run['status']} · {run['started']} · "
        f"{run['total']} items (generated {run['generated']}, cached {run['cached']}, "
        f"skipped {run['skipped']})"
        + (f" · {run['tokens_per_second']:.0f} tok/s" if run.get("tokens_per_second") else ""),
        f"- **Hardware:** {hw.get('cpu') or '?'} · {hw.get('threads') or '?'} threads · "
        f"GPU {hw.get('gpu') or 'none'} · n_gpu_layers {hw.get('n_gpu_layers')} · "
        f"llama-cpp-python {hw.get('llama_cpp_python') or '?'}",
        f"- **Chat template:** {model.get('chat_template')}",
    ]
    if model.get("template_warning"):
        lines += ["", f"> **Warning:** {model['template_warning']}."]
    if run["status"] != "finished":
        lines += ["", f"> **Note:** this run is {run['status']}; numbers cover finished items only."]
    lines += [
        "",
        "## Dimensions",
        "",
        "| Dimension | Summary (95% CI) | Items |",
        "|---|---|---|",
    ]
    for dim in report["dimensions"]:
        lines.append(f"| {dim['title']} | {_value(dict(dim, aggregate='proportion'))} | "
                     f"{dim['done']}/{dim['total']} |")
    lines += ["", f"*Summary:* {report['summary_definition']}.", ""]
    for dim in report["dimensions"]:
        lines += [
            f"## {dim['title']}",
            "",
            "| Sub-task | Metric | Better | Value (95% CI) | n | Unparseable | Skipped |",
            "|---|---|---|---|---|---|---|",
        ]
        for sub in dim["subtasks"]:
            better = "↑ higher" if sub["direction"] == "higher" else "↓ lower"
            lines.append(
                f"| {_cell(sub['title'])} | {_cell(sub['metric'])} | {better} | {_value(sub)} | "
                f"{sub['n']} {sub['unit']} | {sub['unparseable']} | {sub['skipped']} |")
        notes = []
        for sub in dim["subtasks"]:
            notes.extend(_extras(sub))
        if notes:
            lines += [""] + notes
        lines.append("")
    lines += ["## Metric definitions", ""]
    for dim in report["dimensions"]:
        for sub in dim["subtasks"]:
            summary = "" if sub["in_summary"] else " Not part of the dimension summary."
            lines.append(
                f"- **{sub['id']}** ({_cell(sub['trustllm']) or 'trust-tui'}): {_cell(sub['description'])} "
                f"Metric: {sub['metric']}, {'higher' if sub['direction'] == 'higher' else 'lower'} is better; "
                f"{sub['definition']}. Scorer: {sub['scorer']}.{summary}")
    manifest = report["manifest"]
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        report["reproduce"],
        "```",
        "",
        "<details><summary>Reproducibility manifest</summary>",
        "",
        f"- bundle: {manifest['bundle']} (content sha256 `{manifest['bundle_content_sha256']}`)",
        f"- model sha256: `{manifest['model_sha256']}`",
        f"- llama-cpp-python: {manifest.get('llama_cpp_python')}",
        f"- llama.cpp system info: `{_cell(manifest.get('llama_cpp_system_info'))}`",
        f"- comparability hash: `{report['comparability_hash']}`",
        "",
        "| Sub-task | Scorer | Generation |",
        "|---|---|---|",
    ]
    for sub_id, scorer in manifest["scorers"].items():
        gen = manifest["generation"][sub_id]
        gen_text = ", ".join(f"{k}={v}" for k, v in gen.items() if v not in ([], None))
        lines.append(f"| {sub_id} | {scorer} | {_cell(gen_text)} |")
    lines += ["", "</details>", "", f"*Exported by trust-tui {report['trust_tui_version']} "
              f"on {report['exported_at']}.*", ""]
    return "\n".join(lines)


def _extras(sub: dict) -> list[str]:
    extras = sub.get("extras") or {}
    notes = []
    if "breakdown" in extras:
        parts = [f"{k} {100 * v['value']:.0f}% (n={v['n']})" for k, v in extras["breakdown"].items()]
        notes.append(f"- {sub['title']} by group: " + ", ".join(parts))
    if "attack_success_rate" in extras:
        asr = extras["attack_success_rate"]
        notes.append(f"- {sub['title']}: attack success rate {100 * asr['value']:.1f}% "
                     f"of {asr['n']} clean-correct pairs")
    if "label_rates" in extras:
        parts = [f"{k} {100 * v:.0f}%" for k, v in extras["label_rates"].items()]
        notes.append(f"- {sub['title']} answers: " + ", ".join(parts))
    if "attributes" in extras:
        parts = [f"{k}: p={v['p']:.3f} (χ²={v['chi2']:.2f}, dof {v['dof']})"
                 for k, v in extras["attributes"].items()]
        notes.append(f"- {sub['title']}: {extras.get('test')}; " + "; ".join(parts))
    if "note" in extras:
        notes.append(f"- {sub['title']}: {extras['note']}")
    from trust_tui.engine.verdicts import decision_note

    decided = decision_note(sub)
    if decided:
        notes.append(f"- {_cell(sub['title'])}: {decided}")
    if extras.get("conflicting"):
        notes.append(f"- {sub['title']}: {extras['conflicting']} answers give one option's letter "
                     f"and another option's text (scored wrong)")
    return notes
