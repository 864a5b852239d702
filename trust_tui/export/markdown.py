"""A scorecard in Markdown that a person can paste into a forum post or a GitHub issue."""

from __future__ import annotations

from typing import Any

from trust_tui.engine.score import metrics
from trust_tui.sanitize import inert


def _cell(text: Any) -> str:
    """Text from a bundle, a model file or a model must not break the table or the line it is
    in (pipes, newlines, HTML) nor act on a terminal that shows the file (CSI, OSC, BEL)."""
    value = inert(text, single_line=True)
    return (value.replace("\\", "\\\\").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;"))


def _code(text: Any) -> str:
    return "`" + _cell(text).replace("`", "'") + "`"


def _value(entry: dict) -> str:
    metric = metrics.for_display(entry.get("aggregate", metrics.SUMMARY.name))
    return metric.fmt_with_ci(entry["value"], tuple(entry["ci"]) if entry.get("ci") else None)


def render(report: dict) -> str:
    model, bundle, run, hw = report["model"], report["bundle"], report["run"], report["hardware"]
    lines = [
        f"# trust-tui scorecard: {_cell(model['file_name'])}",
        "",
        f"- **Model:** {_code(model['file_name'])} · sha256 {_code(model['sha256'][:16])} · "
        f"{_cell(model.get('quantization') or '?')} · {model.get('size') or '?'} · "
        f"{model.get('parameters_human') or '?'} parameters · {_cell(model.get('architecture') or '?')}",
        f"- **Bundle:** {_cell(bundle['name'])} {_cell(bundle['version'])} · profile {_code(bundle['profile'])} · "
        f"comparability hash `{report['comparability_hash']}`",
        f"- **Run:** #{run['id']} · {_cell(run['status'])} · {run['started']} · "
        f"{run['total']} items (generated {run['generated']}, cached {run['cached']}, "
        f"skipped {run['skipped']})"
        + (f" · {run['tokens_per_second']:.0f} tok/s" if run.get("tokens_per_second") else ""),
        f"- **Hardware:** {hw.get('cpu') or '?'} · {hw.get('threads') or '?'} threads · "
        f"GPU {hw.get('gpu') or 'none'} · n_gpu_layers {hw.get('n_gpu_layers')} · "
        f"llama-cpp-python {hw.get('llama_cpp_python') or '?'}",
        f"- **Chat template:** {_cell(model.get('chat_template'))}",
    ]
    provenance = (report.get("review") or {}).get("provenance")
    if provenance:
        lines.append(f"- **Provenance (GGUF metadata):** {_cell(' · '.join(provenance))}")
    from trust_tui.engine.backends.server.identity import served_by

    if served_by(report.get("backend")):  # the answers came from a server: which, and how it was identified
        at = next(i for i, line in enumerate(lines) if line.startswith("- **Model:**"))
        lines[at] = f"- **Model:** {_code(model['file_name'])} · behind a server, no local file read"
        lines.append(f"- **Served by:** {_cell(served_by(report['backend']))}")
    if report.get("answers_warning"):
        lines += ["", f"> **Warning: {_cell(report['answers_warning'])}** The scores below describe "
                      "the breakage, not the model."]
    if model.get("template_warning"):
        lines += ["", f"> **Warning:** {_cell(model['template_warning'])}."]
    if run["status"] != "finished":
        lines += ["", f"> **Note:** this run is {_cell(run['status'])}; numbers cover finished items only."]
    lines += [
        "",
        "## Dimensions",
        "",
        "| Dimension | Summary (95% CI) | Items |",
        "|---|---|---|",
    ]
    for dim in report["dimensions"]:
        lines.append(f"| {_cell(dim['title'])} | {_value(dim)} | "
                     f"{dim['done']}/{dim['total']} |")
    overall = report.get("overall") or {}
    lines.append(f"| **Overall** | **{metrics.SUMMARY.fmt(overall.get('value'))}** | |")
    lines += ["", f"*Summary:* {report['summary_definition']}.",
              f"*Overall:* {overall.get('definition', '')}.", ""]
    for dim in report["dimensions"]:
        lines += [
            f"## {_cell(dim['title'])}",
            "",
            "| Sub-task | Metric | Better | Value (95% CI) | n | Unparseable | Skipped |",
            "|---|---|---|---|---|---|---|",
        ]
        for sub in dim["subtasks"]:
            better = "↑ higher" if metrics.for_display(sub["aggregate"]).direction_for(sub["direction"]) == "higher" \
                else "↓ lower"
            lines.append(
                f"| {_cell(sub['title'])} | {_cell(sub['metric'])} | {better} | {_value(sub)} | "
                f"{sub['n']} {_cell(sub['unit'])} | {sub['unparseable']} | {sub['skipped']} |")
        notes = []
        for sub in dim["subtasks"]:
            notes.extend(_extras(sub))
        if notes:
            lines += [""] + notes
        lines.append("")
    lines += _judge_section(report)
    lines += _review_section(report)
    lines += ["## Metric definitions", ""]
    for dim in report["dimensions"]:
        for sub in dim["subtasks"]:
            summary = "" if sub["in_summary"] else " Not part of the dimension summary."
            lines.append(
                f"- **{_cell(sub['id'])}** ({_cell(sub['trustllm']) or 'trust-tui'}): {_cell(sub['description'])} "
                f"Metric: {_cell(sub['metric'])}, "
                f"{metrics.for_display(sub['aggregate']).direction_for(sub['direction'])} is better; "
                f"{_cell(sub['definition'])}. Scorer: {_cell(sub['scorer'])}.{summary}")
    manifest = report["manifest"]
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        inert(report["reproduce"]),
        "```",
        "",
        "<details><summary>Reproducibility manifest</summary>",
        "",
        f"- bundle: {_cell(manifest['bundle'])} (content sha256 `{manifest['bundle_content_sha256']}`)",
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
        lines.append(f"| {_cell(sub_id)} | {_cell(scorer)} | {_cell(gen_text)} |")
    lines += ["", "</details>", "", f"*Exported by trust-tui {report['trust_tui_version']} "
              f"on {report['exported_at']}.*", ""]
    return "\n".join(lines)


def _extras(sub: dict) -> list[str]:
    extras = sub.get("extras") or {}
    notes = []
    metric = metrics.for_display(sub.get("aggregate", metrics.DEFAULT))
    if "breakdown" in extras:
        # Each group's value is on the metric's own scale (a rate, an F1, a robustness score).
        parts = [f"{_cell(k)} {metric.fmt(v['value'])} (n={v['n']})" for k, v in extras["breakdown"].items()]
        notes.append(f"- {_cell(sub['title'])} by group: " + ", ".join(parts))
    if "attack_success_rate" in extras:
        asr = extras["attack_success_rate"]
        notes.append(f"- {_cell(sub['title'])}: attack success rate {100 * asr['value']:.1f}% "
                     f"of {asr['n']} clean-correct pairs")
    if "label_rates" in extras:
        parts = [f"{_cell(k)} {100 * v:.0f}%" for k, v in extras["label_rates"].items()]
        notes.append(f"- {_cell(sub['title'])} answers: " + ", ".join(parts))
    if "attributes" in extras:
        parts = [f"{_cell(k)}: p={v['p']:.3f} (χ²={v['chi2']:.2f}, dof {v['dof']})"
                 for k, v in extras["attributes"].items()]
        notes.append(f"- {_cell(sub['title'])}: {_cell(extras.get('test'))}; " + "; ".join(parts))
    if "note" in extras:
        notes.append(f"- {_cell(sub['title'])}: {_cell(extras['note'])}")
    from trust_tui.engine.score.verdicts import decision_note

    decided = decision_note(sub)
    if decided:
        notes.append(f"- {_cell(sub['title'])}: {_cell(decided)}")
    if extras.get("conflicting"):
        notes.append(f"- {_cell(sub['title'])}: {extras['conflicting']} answers give one option's letter "
                     f"and another option's text (scored wrong)")
    return notes


def _judge_section(report: dict) -> list[str]:
    """Who decided the verdicts, where a judge decided or audited any (trust_tui/engine/judge/
    overlay.py): the judge's measured agreement with the labelled corpus, its self-consistency
    on a re-ask, its agreement with the rules where both read, and its warning."""
    def judged(sub: dict) -> bool:
        extras = sub.get("extras") or {}
        return bool(extras.get("judge_audit")) or any(
            k.startswith("judge:") for k in extras.get("decided_by", {}))

    subs = [sub for dim in report["dimensions"] for sub in dim["subtasks"] if judged(sub)]
    audit = report.get("judge_audit") or {}
    if not subs and not audit:
        return []
    lines = ["## Decided by", "",
             "Rules decide what they can; a judge model reads the answers they leave open "
             "(docs/judge.md).", ""]
    if audit.get("n"):
        agreed = round(audit["agree"] * audit["n"])
        kappa = "" if audit.get("kappa") is None else f", kappa {audit['kappa']:.2f}"
        lines += [f"Judge `{_cell(audit.get('judge', ''))}` {_cell(audit.get('judge_name') or '')} "
                  f"({_cell(audit.get('format', ''))}) against the rules on {audit['n']} answers "
                  f"both read: agree {agreed} of {audit['n']}{kappa}"
                  + (f"; {audit['unreadable']} verdicts unreadable" if audit.get("unreadable") else "")
                  + ".", ""]
    lines += ["| Sub-task | Rules | Judge | Judge (rubric) | Judge kappa (binary, n) "
              "| Self-consistency | Judge vs rules (agree, n) | Warning |",
              "|---|---|---|---|---|---|---|---|"]
    for sub in subs:
        extras = sub["extras"]
        counts = extras.get("decided_by") or {}
        total = sum(counts.values()) or 1
        rules = sum(v for k, v in counts.items() if k.startswith("rule:"))
        decided = sum(v for k, v in counts.items() if k.startswith("judge:"))
        judge = extras.get("judge") or {}
        kappa = judge.get("kappa_binary")
        shown = ("not measured" if not judge or kappa is None and judge.get("n") is None
                 else "undefined" if kappa is None else f"{kappa:.2f} (n={judge.get('n')})")
        consistency = judge.get("self_consistency") or {}
        same = (f"{100 * consistency['same']:.0f}% (n={consistency['n']})"
                if consistency.get("n") else "not measured")
        audited = extras.get("judge_audit") or {}
        versus = "–"
        if audited.get("n"):
            versus = f"{round(audited['agree'] * audited['n'])} of {audited['n']}"
            if audited.get("kappa") is not None:
                versus += f", kappa {audited['kappa']:.2f}"
        who = (f"`{_cell(judge.get('judge', audited.get('judge', '')))}` "
               f"{_cell(judge.get('judge_name', ''))} ({_cell(judge.get('format', ''))}, "
               f"{_cell(judge.get('rubric', ''))})" if judge else
               f"`{_cell(audited.get('judge', ''))}` (audit only)")
        lines.append(
            f"| {_cell(sub['title'])} | {100 * rules / total:.0f}% ({rules}) | "
            f"{100 * decided / total:.0f}% ({decided}) | {who} | {shown} | {same} | {versus} | "
            f"{_cell(judge.get('warning', ''))} |")
    warned = sorted({(s["extras"].get("judge") or {}).get("warning") for s in subs} - {None, ""})
    if warned:
        lines += [""] + [f"> **Warning:** {_cell(text)}." for text in warned]
    return lines + [""]


def _review_section(report: dict) -> list[str]:
    """References, the determinism check and reviewed verdicts (engine/score/review.py), when present."""
    review = report.get("review") or {}
    titles = {sub["id"]: sub["title"] for dim in report["dimensions"] for sub in dim["subtasks"]}
    measured = {sub["id"]: metrics.for_display(sub["aggregate"]) for dim in report["dimensions"]
                for sub in dim["subtasks"]}
    out: list[str] = []
    if review.get("references"):
        out += ["## Compared to what", "", "| Sub-task | Reference |", "|---|---|"]
        for sub_id, refs in review["references"].items():
            out += [f"| {_cell(titles.get(sub_id, sub_id))} | {_cell(ref)} |" for ref in refs]
        if review.get("reference_note"):
            out += ["", f"*Published figures:* {_cell(review['reference_note'])}"]
        out.append("")
    if review.get("recheck"):
        out += ["## Determinism check", ""] + [f"- {_cell(line)}" for line in review["recheck"]] + [""]
    if review.get("overridden"):
        out += ["## Reviewed verdicts", "",
                f"{review['overridden']} verdicts were reviewed by hand; the tables above show the scorers' own "
                "verdicts. With the reviews:", ""]
        for sub_id, (without, with_) in review.get("reviewed_values", {}).items():
            metric = measured.get(sub_id, metrics.SUMMARY)
            out.append(f"- {_cell(titles.get(sub_id, sub_id))}: {metric.fmt(without)} → {metric.fmt(with_)}")
        out += ["", "| Item | Scorer's verdict | Reviewed | Note |", "|---|---|---|---|"]
        for item in review.get("overrides", []):
            was, now = item["was"], item["now"]
            out.append(f"| {_cell(item['uid'])} | {_cell(was[1] or was[0])} | {_cell(now[1] or now[0])} | "
                       f"{_cell(item['note'])} |")
        out.append("")
    return out

