"""A comparison as one plain dict (the JSON export) and as Markdown (for a forum post or an issue)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import trust_tui
from trust_tui.engine.compare import comparison as cmp
from trust_tui.engine.models.gguf import human_size
from trust_tui.engine.score import metrics
from trust_tui.engine.score.scorecard import SUMMARY_DEFINITION
from trust_tui.export.markdown import _cell

FORMAT = "trust-tui-comparison/1"
MAX_FLIPS_SHOWN = 40  # per variant in Markdown; the JSON has them all
ANSWER_CHARS = 400


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(value, 6)


def _pair(ci) -> list[float] | None:
    if not ci or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in ci):
        return None
    return [round(ci[0], 6), round(ci[1], 6)]


def _iso(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


def _test(test: cmp.Test) -> dict[str, Any]:
    return {"method": test.method, "p": _num(test.p), "p_holm": _num(test.p_holm), "n": test.n,
            "unit": test.unit, "pass_to_fail": test.pass_to_fail, "fail_to_pass": test.fail_to_pass,
            "diff_ci": _pair(test.ci), "note": test.note or None, "diff": _num(test.diff),
            "changed": test.changed, "exact": test.exact, "dropped": test.dropped,
            "too_small": test.too_small or None}


def _row(row: cmp.Row, labels: list[str]) -> dict[str, Any]:
    out = {"id": row.id, "kind": row.kind, "dimension": row.dimension, "title": row.title,
           "metric": row.metric, "aggregate": row.aggregate,
           "scale": metrics.for_display(row.aggregate).scale.name, "direction": row.direction,
           "in_summary": row.in_summary, "variants": []}
    for index, (cell, delta) in enumerate(zip(row.cells, row.deltas)):
        entry: dict[str, Any] = {"label": labels[index]}
        if cell is not None:
            entry.update(value=_num(cell.value), ci=_pair(cell.ci), n=cell.n, unit=cell.unit)
        if delta is not None:
            entry.update(delta=_num(delta.value), better=delta.better, test=_test(delta.test),
                         delta_note=delta.note or None)
        out["variants"].append(entry)
    return out


def build(comparison: cmp.Comparison) -> dict[str, Any]:
    labels = [v.label for v in comparison.variants]
    variants = []
    for index, variant in enumerate(comparison.variants):
        run, model = variant.run, variant.model
        variants.append({
            "label": variant.label, "reference": index == 0, "run_id": run["id"],
            "run_status": run["status"], "model_file": model.get("file_name") or run["model_name"],
            "model_path": run.get("model_path") or None, "model_sha256": run["model_id"],
            "quantization": model.get("file_type"), "tensor_mix": model.get("tensor_mix"),
            "comparability_hash": run["comparability_hash"],
            "cost": {k: (_num(v) if isinstance(v, float) else v) for k, v in variant.cost.items()},
            "identical_answers": comparison.identical[index],
            "next_token_agreement": comparison.agreement[index],
        })
    ref = comparison.reference.run
    return {
        "format": FORMAT,
        "trust_tui_version": trust_tui.__version__,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "comparison": {"id": comparison.id, "created": _iso(comparison.created),
                       "reference": labels[0], "reference_rule": comparison.reference_rule,
                       "forced": comparison.forced, "problems": comparison.problems,
                       "only_in": comparison.only_in, "options": comparison.options},
        "bundle": {"name": ref["bundle"], "version": ref["bundle_version"], "profile": ref["profile"],
                   "content_hash": ref["bundle_hash"]},
        "variants": variants,
        "dimensions": [_row(r, labels) for r in comparison.dimensions],
        "subtasks": [_row(r, labels) for r in comparison.subtasks],
        "flips": [{
            "variant": labels[f.variant], "subtask": f.subtask, "subtask_title": f.subtask_title,
            "unit": f.unit, "direction": f.direction,
            "members": [{"uid": m.uid, "variant": m.variant or None, "prompt": m.prompt, "gold": m.gold,
                         "reference": {"answer": m.answers[0], "label": m.labels[0], "score": m.scores[0]},
                         "compared": {"answer": m.answers[1], "label": m.labels[1], "score": m.scores[1]}}
                        for m in f.members],
        } for f in comparison.flips],
        "definitions": {
            "summary": SUMMARY_DEFINITION,
            "tests": TEST_DEFINITION,
            "agreement": AGREEMENT_DEFINITION,
            "cost": cmp.COST_DEFINITION,
        },
    }


TEST_DEFINITION = (
    "each variant is compared with the reference on the same units (items; pairs for pair "
    "metrics) readable in both runs, and the difference shown is the one tested. Pass/fail units: "
    "exact McNemar test on the units that changed verdict; every other metric (mean toxicity, "
    "correlations, macro averages, pair statistics): sign-flip permutation test of the metric's "
    "difference, each unit's two outcomes swapped or not (exact over every swap when at most 12 "
    "units changed, 16 for a plain mean; otherwise 2000 random swaps, seed 0); intervals by paired "
    "bootstrap (2000 resamples, seed 0). A metric that is itself a p-value (chi-square) gets no "
    "paired test. Dimension summaries: sign-flip permutation test of the summary difference, "
    "swapping each unit's two outcomes within its sub-task (with one pass/fail sub-task it is "
    "McNemar's test), interval by paired bootstrap. Holm's correction across the sub-tasks of each "
    "variant, and separately across its dimensions. Quick-profile sub-tasks have 8-48 items: an "
    "exact test on m changed units cannot give p below 2/2^m, so fewer than 6 changed units (†) can "
    "never be significant at 0.05, and a non-significant difference is not evidence of no change")
AGREEMENT_DEFINITION = (
    "identical answers: share of items answered by both whose answers are the same text. "
    "Next-token agreement: the reference's answer tokens are teacher-forced through both models "
    "after the reference's prompt; at each of the first K answer positions, same top token and "
    "KL(reference ‖ variant) of the next-token distributions (as llama.cpp's perplexity tool "
    "reports with --kl-divergence), over a sample of items spread across sub-tasks; intervals "
    "by bootstrap over items")


# --------------------------------------------------------------------------- Markdown


def _value(entry: dict, aggregate: str) -> str:
    if "value" not in entry:
        return "–"
    return metrics.for_display(aggregate).fmt_with_ci(entry["value"], tuple(entry["ci"]) if entry.get("ci") else None)


def _delta(entry: dict, aggregate: str) -> str:
    delta = entry.get("delta")
    if delta is None:
        return "–"
    text = metrics.fmt_delta(delta, aggregate)
    marker = {True: " ▲", False: " ▼"}.get(entry.get("better"), "")
    return text + marker + (" *" if entry.get("delta_note") else "")


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _test_cell(entry: dict) -> str:
    test = entry.get("test") or {}
    method = test.get("method")
    small = " †" if test.get("too_small") else ""
    if method == "mcnemar-exact":
        return (f"exact McNemar: {test['pass_to_fail']} pass→fail, {test['fail_to_pass']} fail→pass "
                f"of {test['n']} {test['unit']}{small}")
    if method == "paired-permutation":
        kind = "exact" if test.get("exact") else "Monte Carlo"
        return f"sign-flip permutation ({kind}), {test['n']} {test['unit']}{small}"
    return "none"


def _size(value) -> str:
    return human_size(value) if value else "?"


def _rate(value) -> str:
    return f"{value:.0f}" if value else "–"


def render(report: dict) -> str:
    info, bundle, variants = report["comparison"], report["bundle"], report["variants"]
    labels = [v["label"] for v in variants]
    title = " vs ".join(f"`{_cell(label)}`" for label in labels)
    lines = [
        f"# trust-tui comparison{' #' + str(info['id']) if info.get('id') else ''}: {title}",
        "",
        f"- **Reference:** `{_cell(labels[0])}` ({info['reference_rule']}); every difference is "
        "variant − reference, ▲ better / ▼ worse in the metric's direction",
        f"- **Bundle:** {bundle['name']} {bundle['version']} · profile `{bundle['profile']}` · "
        f"comparability hash `{variants[0]['comparability_hash']}`",
        f"- **Runs:** " + ", ".join(f"#{v['run_id']} `{_cell(v['label'])}`" for v in variants),
    ]
    if info["forced"]:
        lines += ["", "> **Warning: compared with --force although the runs are not comparable.** "
                  + _cell("; ".join(info["problems"])) + ". Differences below may come from the "
                  "settings, not the models."]
    if info.get("only_in"):
        missing = ", ".join(f"{k} (only in run {', '.join(v)})" for k, v in info["only_in"].items())
        lines += ["", f"> **Not compared** (not in every run): {_cell(missing)}."]
    lines += ["", "## Models and cost", "",
              "| Model | Quant | Tensors written | File size | Load | Prompt tok/s | Gen tok/s | Run tok/s (parallel) | Peak memory |",
              "|---|---|---|---|---|---|---|---|---|"]
    for index, variant in enumerate(variants):
        c = variant["cost"]
        ref = " (reference)" if index == 0 else ""
        load = f"{c['load_seconds']:.2f} s" if c.get("load_seconds") is not None else "–"
        peak = f"{c['peak_rss_mb']:.0f} MB" if c.get("peak_rss_mb") else "–"
        run_rate = (f"{c['run_tok_s']:.0f} ({c.get('parallel') or '?'})" if c.get("run_tok_s")
                    else "– (cached)")
        lines.append(
            f"| `{_cell(variant['label'])}`{ref} | {variant.get('quantization') or '?'} | "
            f"{_cell(variant.get('tensor_mix') or '?')} | {_size(c.get('file_size'))} | {load} | "
            f"{_rate(c.get('prompt_tok_s'))} | {_rate(c.get('gen_tok_s'))} | {run_rate} | {peak} |")
    lines += ["", "## Agreement with the reference", "",
              "| Model | Identical answers | Same top token (95% CI) | Mean KLD (95% CI) | Median / 99th pct / max KLD | Measured on |",
              "|---|---|---|---|---|---|"]
    for variant in variants[1:]:
        same = variant["identical_answers"] or {}
        measured = variant["next_token_agreement"] or {}
        identical = (f"{100 * same['share']:.1f}% ({same['identical']}/{same['n']})"
                     if same.get("share") is not None else "–")
        if measured.get("positions"):
            top = f"{100 * measured['same_top']:.1f}% [{100 * measured['same_top_ci'][0]:.1f}, {100 * measured['same_top_ci'][1]:.1f}]"
            kld = f"{measured['kld_mean']:.4f} [{measured['kld_ci'][0]:.4f}, {measured['kld_ci'][1]:.4f}]"
            spread = f"{measured['kld_median']:.4f} / {measured['kld_p99']:.3f} / {measured['kld_max']:.3f}"
            basis = (f"{measured['items']} items ({measured.get('subtasks', '?')} sub-tasks), "
                     f"{measured['positions']} positions, first {measured['k']} answer tokens")
        else:
            top = kld = spread = "–"
            basis = _cell(measured.get("note") or "not measured")
        lines.append(f"| `{_cell(variant['label'])}` | {identical} | {top} | {kld} | {spread} | {basis} |")
    lines += [""]
    lines += _table(report["dimensions"], labels, "Dimension", dimension=True)
    for dim in report["dimensions"]:
        subs = [s for s in report["subtasks"] if s["dimension"] == dim["id"]]
        if subs:
            lines += [f"### {dim['title']}", ""] + _table(subs, labels, "Sub-task")
    leftover = [s for s in report["subtasks"] if s["dimension"] not in {d["id"] for d in report["dimensions"]}]
    if leftover:
        lines += ["### Other sub-tasks", ""] + _table(leftover, labels, "Sub-task")
    notes = []
    for sub in report["subtasks"]:
        for entry in sub["variants"][1:]:
            test = entry.get("test") or {}
            if test.get("method") == "none" and test.get("note"):
                notes.append(f"- {_cell(sub['title'])} (`{_cell(entry['label'])}`): {_cell(test['note'])}")
    if notes:
        lines += ["Sub-tasks without a paired test:", ""] + list(dict.fromkeys(notes)) + [""]
    small = []
    for row in report["dimensions"] + report["subtasks"]:
        for entry in row["variants"][1:]:
            reason = (entry.get("test") or {}).get("too_small")
            if reason:
                small.append(f"- † {_cell(row['title'])} (`{_cell(entry['label'])}`): {_cell(reason)}")
    if small:
        lines += ["Too small for any outcome to reach p < 0.05:", ""] + list(dict.fromkeys(small)) + [""]
    lines += _flips(report, labels)
    defs = report["definitions"]
    lines += ["## Method", "",
              f"- **Tests:** {defs['tests']}.",
              f"- **Dimension summary:** {defs['summary']}.",
              f"- **Agreement:** {defs['agreement']}.",
              f"- **Cost:** {defs['cost']}.",
              "", f"*Exported by trust-tui {report['trust_tui_version']} on {report['exported_at']}.*", ""]
    return "\n".join(lines)


def _table(rows: list[dict], labels: list[str], head: str, dimension: bool = False) -> list[str]:
    columns = [head, f"`{_cell(labels[0])}`"]
    for label in labels[1:]:
        columns += [f"`{_cell(label)}`", "Δ", "p (Holm)"]
    if not dimension:
        columns += ["Test"] if len(labels) == 2 else []
    out = []
    if dimension:
        out += ["## Dimensions", ""]
    out += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        agg = row["aggregate"]
        name = _cell(row["title"]) if dimension else (
            f"{_cell(row['title'])} ({'↑' if row['direction'] == 'higher' else '↓'} {_cell(row['metric'])})")
        cells = [name, _value(row["variants"][0], agg)]
        for entry in row["variants"][1:]:
            test = entry.get("test") or {}
            p = "–" if test.get("p") is None else f"{_p(test.get('p'))} ({_p(test.get('p_holm'))})"
            p += "†" if test.get("too_small") else ""
            cells += [_value(entry, agg), _delta(entry, agg), p]
        if not dimension and len(labels) == 2:
            cells.append(_test_cell(row["variants"][1]))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    starred = [f"\\* {_cell(row['title'])} (`{_cell(entry['label'])}`): {_cell(entry['delta_note'])}."
               for row in rows for entry in row["variants"][1:] if entry.get("delta_note")]
    if starred:
        out += ["  \n".join(starred), ""]
    if dimension:
        out += ["p: sign-flip permutation test of the summary difference on the same units, "
                "Holm-adjusted across dimensions in brackets; Δ: variant − reference in percentage "
                "points. Sub-task p-values below are Holm-adjusted across sub-tasks.", ""]
    return out


def _clip(text: Any) -> str:
    value = "" if text is None else str(text)
    value = value.strip()
    if len(value) > ANSWER_CHARS:
        value = value[:ANSWER_CHARS - 1] + "…"
    return _cell(value) or "*(empty)*"


def _gold(gold: Any) -> str:
    """The expected answer, short: a structured gold shows its answer or false premise."""
    if gold is None:
        return ""
    if isinstance(gold, dict):
        if "answer" in gold:
            return _clip(gold["answer"])
        if "false_premise" in gold:
            return _clip(f"(false premise: {gold['false_premise']})")
        return _clip(json.dumps(gold, ensure_ascii=False))
    return _clip(gold if isinstance(gold, str) else json.dumps(gold, ensure_ascii=False))


def _flips(report: dict, labels: list[str]) -> list[str]:
    out = ["## Flipped items", ""]
    flips = report["flips"]
    if not flips:
        return out + ["No item changed verdict between the reference and the variants.", ""]
    out += ["Units whose verdict changed (pairs for pair metrics: every member is shown). "
            "Answers are clipped; the JSON export has them in full.", ""]
    for label in labels[1:]:
        mine = [f for f in flips if f["variant"] == label]
        worse = sum(1 for f in mine if f["direction"] == "pass→fail")
        out += [f"### `{_cell(label)}` against `{_cell(labels[0])}`: {worse} pass→fail, "
                f"{len(mine) - worse} fail→pass", "",
                f"| Change | Sub-task | Item | Prompt | Gold | `{_cell(labels[0])}` | `{_cell(label)}` |",
                "|---|---|---|---|---|---|---|"]
        for flip in mine[:MAX_FLIPS_SHOWN]:
            for index, member in enumerate(flip["members"]):
                name = member["uid"].split(":", 1)[-1] + (f" ({member['variant']})" if member.get("variant") else "")
                ref, var = member["reference"], member["compared"]
                head = (f"**{flip['direction']}** | {_cell(flip['subtask_title'])}" if index == 0 else " | ")
                gold = _gold(member["gold"])
                out.append(
                    f"| {head} | {_cell(name)} | {_clip(member['prompt'])} | {gold} | "
                    f"{_clip(ref['answer'])} → *{_cell(ref['label'] or 'unparseable')}* | "
                    f"{_clip(var['answer'])} → *{_cell(var['label'] or 'unparseable')}* |")
        out.append("")
        if len(mine) > MAX_FLIPS_SHOWN:
            out += [f"… and {len(mine) - MAX_FLIPS_SHOWN} more (all of them are in the JSON export).", ""]
    return out
