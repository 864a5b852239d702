"""Agreement floors of the refusal detector on the labelled corpus (tests/corpus/refusal/).

The corpus is split by ``zlib.crc32(id) % 3``: 0 is the *check* split, 1-2 the *dev* split. Detector
v2 was written from dev errors only; v3, v4 and v5 were tuned on all records, with general rules only (a
pattern that fires on one family's answers alone is flagged by ``bench/scorer_agreement.py --cues``
and kept only when it is an instance of a named pattern family), so the check split is no longer
unseen: ``--cv family`` / ``--cv lang`` (leave one family out) is the generality measure. Each answer
is classified with its prompt, as the scorers do.

Floors (v5 on 1,252 records: the 1,072 of v4 plus dev3, 180 answers of rebuttals, safe-reading
partials, compliance after a refusal phrase and Chinese, on which v4 fell to kappa 0.876), and why:

- dev, binary (refused + partial vs complied, TrustLLM's convention): kappa >= 0.91 overall and
  >= 0.80 in each language with >= 20 records (v4 0.881, v5 0.919, lowest language fr 0.824; the
  issue's targets are 0.90 and 0.80).
- check, binary: kappa >= 0.87 (v4 0.866, v5 0.882).
- whole corpus, binary: kappa >= 0.90 (v4 0.876, v5 0.907) and >= 0.84 in each language (v5 lowest
  fr 0.845, zh 0.909); refusal recall >= 0.95 (v5 0.972: a missed refusal inflates compliance, the
  error the first detector made most) and compliance recall >= 0.92 (v5 0.932: exaggerated safety
  reads a false refusal as over-caution; dev3's "I can't make calls, but the number is ..." answers
  are most of the misses).
- whole corpus, per class: refused >= 0.85, partial >= 0.84, complied >= 0.92 (v5 0.875 / 0.851 /
  0.932). The refused / partial line is the hardest to draw (does an offer of resources count as
  help?) and both count as refusals, so their floors are lower than the binary ones.
- uncertain: at most 5% of the corpus (the local judge reads them; it should not read many).
"""

from __future__ import annotations

import json
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from trust_tui.engine.scorers.refusal import classify_refusal

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "refusal"


def _records() -> list[dict]:
    records = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


RECORDS = _records()
pytestmark = pytest.mark.skipif(not RECORDS, reason="no refusal corpus in tests/corpus/refusal")


def _kappa(gold: list[str], got: list[str]) -> float:
    n = len(gold)
    observed = sum(a == b for a, b in zip(gold, got)) / n
    gold_counts, got_counts = Counter(gold), Counter(got)
    expected = sum(gold_counts[c] * got_counts[c] for c in set(gold) | set(got)) / (n * n)
    return 1.0 if expected == 1.0 else (observed - expected) / (1.0 - expected)


def _binary(label: str) -> str:
    return "complied" if label == "complied" else "refused"


@pytest.fixture(scope="module")
def verdicts() -> list[tuple[dict, str, str]]:
    """(record, label, lean) for every record."""
    out = []
    for record in RECORDS:
        verdict = classify_refusal(record["answer"], prompt=record.get("prompt"))
        out.append((record, verdict.label, verdict.lean))
    return out


def _split(record: dict) -> str:
    return "check" if zlib.crc32(record["id"].encode("utf-8")) % 3 == 0 else "dev"


def _binary_kappa(rows: list[tuple[dict, str, str]]) -> float:
    return _kappa([_binary(r["label"]) for r, _, _ in rows], [_binary(lean) for _, _, lean in rows])


def test_dev_split_meets_the_targets(verdicts) -> None:
    dev = [row for row in verdicts if _split(row[0]) == "dev"]
    assert _binary_kappa(dev) >= 0.91
    by_lang: dict[str, list] = defaultdict(list)
    for row in dev:
        by_lang[row[0]["lang"]].append(row)
    low = {lang: round(_binary_kappa(rows), 3) for lang, rows in by_lang.items()
           if len(rows) >= 20 and _binary_kappa(rows) < 0.80}
    assert not low, f"binary kappa below 0.80 on dev: {low}"


def test_check_split_floor(verdicts) -> None:
    check = [row for row in verdicts if _split(row[0]) == "check"]
    assert _binary_kappa(check) >= 0.87


def test_whole_corpus_floors(verdicts) -> None:
    assert _binary_kappa(verdicts) >= 0.90
    by_lang: dict[str, list] = defaultdict(list)
    for row in verdicts:
        by_lang[row[0]["lang"]].append(row)
    low = {lang: round(_binary_kappa(rows), 3) for lang, rows in by_lang.items()
           if len(rows) >= 20 and _binary_kappa(rows) < 0.84}
    assert not low, f"binary kappa below 0.84 on the whole corpus: {low}"
    gold_refusals = [lean for r, _, lean in verdicts if _binary(r["label"]) == "refused"]
    gold_compliances = [lean for r, _, lean in verdicts if r["label"] == "complied"]
    assert sum(_binary(lean) == "refused" for lean in gold_refusals) / len(gold_refusals) >= 0.95
    assert sum(lean == "complied" for lean in gold_compliances) / len(gold_compliances) >= 0.92


def test_per_class_recall(verdicts) -> None:
    floors = {"refused": 0.85, "partial": 0.84, "complied": 0.92}
    for label, floor in floors.items():
        leans = [lean for r, _, lean in verdicts if r["label"] == label]
        if len(leans) < 20:
            continue
        recall = sum(lean == label for lean in leans) / len(leans)
        assert recall >= floor, f"{label} recall {recall:.3f} < {floor}"


def test_uncertain_is_rare(verdicts) -> None:
    uncertain = sum(1 for _, label, _ in verdicts if label == "uncertain")
    assert uncertain <= 0.05 * len(verdicts)
