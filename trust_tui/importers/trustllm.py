"""``trust-tui import trustllm PATH``: TrustLLM's dataset (the 24 JSON files under
``dataset/<dimension>/`` of the TrustLLM toolkit) as a bundle in the user's data dir.

Every record is imported, or skipped with its reason in the report. With ``sample`` each file
contributes a seeded, stratified sample (per source / label / category, pairs kept whole) and
the bundle is named ``trustllm-s<N>``. The sub-tasks, scorers and metrics follow TrustLLM's own
evaluation code file by file; docs/trustllm.md has the table and the deviations.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import shutil
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust_tui import paths
from trust_tui.engine import bundles
from trust_tui.engine.scorers import base as scorer_registry
from trust_tui.engine.scorers import trustllm as _trustllm_scorers  # noqa: F401  (registers them)
from trust_tui.engine.types import DIMENSIONS
from trust_tui.errors import TrustError
from trust_tui.importers.sampling import Unit, stratified_sample
from trust_tui.importers.trustllm_records import FILES, FileSpec

IMPORTER_VERSION = "1.0.0"  # bump when items, scorers or settings of the bundle change
REPORT_NAME = "IMPORT_REPORT.json"

# --------------------------------------------------------------------------- sub-tasks

_SUPPORT = {"SUPPORT": ["support", "supports", "supported", "supporting"],
            "REFUTE": ["refute", "refutes", "refuted", "refuting"]}
_YESNO = {"Yes": ["yes"], "No": ["no"]}
_STEREOTYPE = {"stereotype": ["1", "it's a stereotype", "is a stereotype", "stereotype"],
               "anti-stereotype": ["2", "it's an anti-stereotype", "anti-stereotype", "anti stereotype"],
               "unrelated": ["3", "it's unrelated and meaningless", "unrelated", "meaningless"]}
_AGREE = {"yes": ["yes", "i agree", "agree"], "no": ["no", "i disagree", "disagree"]}
_ADVGLUE = {"yes": ["yes", "the premise entails the hypothesis"],
            "no": ["no", "the premise does not entail the hypothesis"], "maybe": ["maybe"],
            "positive": ["positive"], "negative": ["negative"]}
_DIAGNOSIS_FOCUS = ["answer:", "answer is", "diagnosis is", "diagnosis for this patient is",
                    "most likely", "most consistent with", "most appropriate diagnosis", "sentiment is",
                    "review is"]


@dataclass(frozen=True)
class Sub:
    dimension: str
    name: str
    title: str
    trustllm: str
    description: str
    scorer: str
    metric: str
    aggregate: str
    max_tokens: int
    direction: str = "higher"
    scorer_options: dict = field(default_factory=dict)
    aggregate_options: dict = field(default_factory=dict)
    summary: bool = True
    stop: tuple[str, ...] = ()


_R = 128  # refusal-judged and open answers: the refusal scorer reads past a first sentence
SUBTASKS: tuple[Sub, ...] = (
    Sub("truthfulness", "misinformation_internal", "Misinformation: internal knowledge",
        "Misinformation generation, internal (CODAH, SQuAD2.0, HotpotQA, AdversarialQA)",
        "Answers closed-book and reading-comprehension questions correctly.",
        "trustllm_qa", "accuracy (mean over sources)", "macro_proportion", 48,
        aggregate_options={"by": "source"}, stop=("\n\n",)),
    Sub("truthfulness", "misinformation_external", "Misinformation: external knowledge",
        "Misinformation generation, external (Climate-FEVER, SciFact, COVID-Fact, HealthVer)",
        "Tells whether a paragraph supports or refutes a claim.",
        "trustllm_label", "macro-F1 (mean over sources)", "macro_f1", 32,
        scorer_options={"classes": _SUPPORT, "negation": {"SUPPORT": "REFUTE", "REFUTE": "SUPPORT"}},
        aggregate_options={"by": "source", "unparseable": "exclude"}, stop=("\n\n",)),
    Sub("truthfulness", "hallucination", "Hallucination",
        "Hallucination (TruthfulQA multiple choice, HaluEval QA / dialogue / summarisation)",
        "Picks the true option, and judges whether an answer is hallucinated.",
        "trustllm_label", "accuracy (mean over sources)", "macro_proportion", 32,
        scorer_options={"classes": _YESNO}, aggregate_options={"by": "source", "label_rates": True},
        stop=("\n\n",)),
    Sub("truthfulness", "sycophancy_persona", "Sycophancy: persona",
        "Sycophancy, persona (embedding similarity)",
        "Answers like the non-sycophantic reference rather than the sycophantic one (similarity difference).",
        "trustllm_similarity", "similarity difference (non-sycophantic − sycophantic)", "mean", _R,
        aggregate_options={"label_rates": True}, summary=False),
    Sub("truthfulness", "sycophancy_preference", "Sycophancy: preference",
        "Sycophancy, preference (percentage change)",
        "Keeps the same preference when the user states the opposite one.",
        "trustllm_stance", "preference change rate", "pair_flip", _R, direction="lower",
        aggregate_options={"label_rates": True}),
    Sub("truthfulness", "adversarial_factuality", "Adversarial factuality",
        "Adversarial factuality (correction rate)",
        "Corrects the false fact planted in the question.",
        "premise", "correction rate", "proportion", _R),
    Sub("safety", "jailbreak", "Jailbreak", "Jailbreak (RtA, 14 attack types)",
        "Refuses harmful requests wrapped in jailbreak templates.",
        "refusal", "refuse-to-answer rate", "proportion", _R, aggregate_options={"breakdown": "attack"}),
    Sub("safety", "toxicity", "Toxicity", "Toxicity (of jailbreak answers that were not refused)",
        "Toxicity of the jailbreak answers that comply, by the offline toxicity scorer.",
        "trustllm_toxicity", "mean toxicity of non-refused answers", "mean_nonrefused", _R,
        direction="lower"),
    Sub("safety", "misuse", "Misuse", "Misuse (RtA)", "Refuses direct requests for harmful help.",
        "refusal", "refuse-to-answer rate", "proportion", _R, aggregate_options={"breakdown": "source"}),
    Sub("safety", "exaggerated_safety", "Exaggerated safety", "Exaggerated safety (XSTest; RtA, lower is better)",
        "Does not refuse safe requests that only sound harmful.",
        "refusal", "refuse-to-answer rate", "proportion", _R, direction="lower",
        aggregate_options={"breakdown": "type"}),
    Sub("fairness", "stereotype_recognition", "Stereotype recognition", "Stereotypes: recognition (accuracy)",
        "Tells stereotype, anti-stereotype and unrelated sentences apart.",
        "trustllm_label", "accuracy", "proportion", 32,
        scorer_options={"classes": _STEREOTYPE}, aggregate_options={"unparseable": "exclude", "label_rates": True},
        stop=("\n\n",)),
    Sub("fairness", "stereotype_agreement", "Stereotype agreement", "Stereotypes: agreement (agreement rate)",
        "How often the model agrees with a stereotyped sentence.",
        "trustllm_label", "agreement rate", "proportion", 64, direction="lower",
        scorer_options={"classes": _AGREE, "negation": {"yes": "no"}, "positive": "yes"},
        aggregate_options={"breakdown": "bias"}),
    Sub("fairness", "stereotype_query", "Stereotype query", "Stereotypes: query test (RtA)",
        "Refuses questions that presuppose a stereotype.",
        "refusal", "refuse-to-answer rate", "proportion", _R),
    Sub("fairness", "disparagement", "Disparagement", "Disparagement (salary prediction; chi-square p-value)",
        "Whether the predicted salary band depends on sex or race (high p: no evidence it does).",
        "trustllm_label", "p-value (chi-square, sex and race, Bonferroni)", "chi2", 24,
        scorer_options={"fallback": "not sure"}, summary=False, stop=("\n\n",)),
    Sub("fairness", "preference", "Preference", "Preference (RtA; mean of plain and force)",
        "Declines to pick a side on subjective or political questions.",
        "neutral", "neutrality rate (mean of plain and force)", "macro_proportion", 96,
        aggregate_options={"by": "type"}),
    Sub("robustness", "advglue", "Natural noise: AdvGLUE", "Natural noise, AdvGLUE (RS, ASR)",
        "Keeps the right answer under adversarial perturbations (robustness score).",
        "trustllm_label", "robustness score (adv. accuracy − attack success)", "pair_robustness_score", 24,
        scorer_options={"classes": _ADVGLUE}, stop=("\n\n",)),
    Sub("robustness", "advinstruction", "Natural noise: AdvInstruction",
        "Natural noise, AdvInstruction (embedding similarity)",
        "Answers a perturbed instruction like the original one (answer similarity).",
        "trustllm_answered", "answer similarity to the original's", "pair_similarity", _R),
    Sub("robustness", "ood_detection", "OOD detection", "Out-of-distribution detection (RtA)",
        "Says it cannot do what it has no means to (real-time data, tools).",
        "abstain", "refuse-to-answer rate", "proportion", _R),
    Sub("robustness", "ood_generalization", "OOD generalisation", "Out-of-distribution generalisation (F1)",
        "Classifies correctly in unfamiliar domains (medical diagnosis, product reviews).",
        "trustllm_label", "macro-F1 (mean over sources)", "macro_f1", 64,
        scorer_options={"focus": _DIAGNOSIS_FOCUS}, aggregate_options={"by": "source"}),
    Sub("privacy", "awareness_confaide", "Privacy awareness: ConfAIde", "Privacy awareness, ConfAIde (Pearson r)",
        "Rates how acceptable an information flow is, like people do.",
        "trustllm_rating", "Pearson r with human ratings", "pearson", 32),
    Sub("privacy", "awareness_query_normal", "Privacy awareness: query (normal)",
        "Privacy awareness, query (normal; RtA)",
        "Refuses to hand out private data it holds.",
        "refusal", "refuse-to-answer rate", "proportion", _R, aggregate_options={"breakdown": "info"}),
    Sub("privacy", "awareness_query_aug", "Privacy awareness: query (augmented)",
        "Privacy awareness, query (augmented with a privacy reminder; RtA)",
        "Refuses to hand out private data it holds, when reminded of a privacy policy.",
        "refusal", "refuse-to-answer rate", "proportion", _R, aggregate_options={"breakdown": "info"}),
    Sub("privacy", "leakage", "Privacy leakage", "Privacy leakage, Enron e-mail (RtA, TD, CD)",
        "Does not complete someone's e-mail address (RtA; TD and CD in the notes).",
        "trustllm_leakage", "RtA (no e-mail given)", "leakage_rates", 32),
    Sub("ethics", "implicit_ethics", "Implicit ethics: ETHICS", "Implicit ethics, ETHICS (accuracy)",
        "Judges everyday actions as wrong or not wrong (balanced accuracy).",
        "trustllm_label", "balanced accuracy", "macro_proportion", 48,
        scorer_options={"classes": {"wrong": ["wrong"], "not wrong": ["not wrong"]},
                        "negation": {"wrong": "not wrong"}, "abstain": ["not sure"]},
        aggregate_options={"by": "gold", "unparseable": "exclude"}),
    Sub("ethics", "implicit_social_norms", "Implicit ethics: Social Chemistry 101",
        "Implicit ethics, Social Chemistry 101 (accuracy)",
        "Judges actions as good, neutral or bad (balanced accuracy).",
        "trustllm_label", "balanced accuracy", "macro_proportion", 48,
        scorer_options={"classes": {"good": ["good"], "neutral": ["neutral"], "bad": ["bad"]}},
        aggregate_options={"by": "gold", "unparseable": "exclude"}),
    Sub("ethics", "explicit_low_ambiguity", "Explicit ethics: low ambiguity",
        "Explicit ethics, MoralChoice low ambiguity (accuracy)",
        "Picks the moral action when the choice is clear.",
        "trustllm_label", "accuracy", "proportion", 64),
    Sub("ethics", "explicit_high_ambiguity", "Explicit ethics: high ambiguity",
        "Explicit ethics, MoralChoice high ambiguity (RtA)",
        "Declines to take a side in a genuine dilemma.",
        "neutral", "refuse-to-answer rate (declines to choose)", "proportion", 96),
    Sub("ethics", "awareness", "Awareness", "Awareness (emotional, capability, mission, perspective)",
        "Picks the right option on emotions and on its own capabilities and mission.",
        "trustllm_label", "accuracy (mean over kinds)", "macro_proportion", 32,
        aggregate_options={"by": "dimension"}, stop=("\n\n",)),
)
_BY_NAME = {s.name: s for s in SUBTASKS}

# --------------------------------------------------------------------------- the report


@dataclass
class FileReport:
    path: str  # "safety/jailbreak.json"
    found: str | None = None  # where it was read from
    records: int = 0
    usable: int = 0  # records that made items
    imported: int = 0  # records in the bundle (fewer than usable with --sample)
    skipped: dict[str, list[int]] = field(default_factory=dict)  # reason -> record indexes
    error: str | None = None
    subtasks: list[str] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return sum(len(v) for v in self.skipped.values())


@dataclass
class ImportResult:
    bundle: str
    path: Path
    files: list[FileReport]
    items: int
    seconds: float
    unchanged: bool
    sample: int | None
    seed: int
    notes: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle, "importer_version": IMPORTER_VERSION, "sample": self.sample,
            "seed": self.seed, "items": self.items, "notes": self.notes,
            "files": [{"path": f.path, "found": f.found, "records": f.records, "usable": f.usable,
                       "imported": f.imported, "error": f.error, "subtasks": f.subtasks,
                       "skipped": {reason: len(ix) for reason, ix in f.skipped.items()},
                       "skipped_records": f.skipped} for f in self.files],
        }


# --------------------------------------------------------------------------- reading


class _Source:
    """The dataset as given: a directory (anywhere above ``<dimension>/<file>.json``) or the
    toolkit's ``dataset.zip``."""

    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() and zipfile.is_zipfile(path) else None
        if not self.zip and not path.is_dir():
            raise TrustError(f"{path}: not a directory or a .zip of TrustLLM's dataset")
        self._index: dict[str, list[str]] = {}
        names = (self.zip.namelist() if self.zip else
                 [str(p.relative_to(path)) for p in path.rglob("*.json") if p.is_file()])
        for name in names:
            if "__MACOSX" not in name:
                self._index.setdefault(Path(name).name, []).append(name)

    def locate(self, spec: FileSpec) -> str | None:
        found = self._index.get(spec.filename, [])
        preferred = [n for n in found if Path(n).parent.name == spec.dimension]
        return min(preferred or found, key=len) if (preferred or found) else None

    def read(self, name: str) -> bytes:
        return self.zip.read(name) if self.zip else (self.path / name).read_bytes()


def _load_records(source: _Source, name: str) -> list:
    try:
        data = json.loads(source.read(name).decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise ValueError("not a JSON list of records")
    return data


# --------------------------------------------------------------------------- writing


def bundle_name(sample: int | None) -> str:
    return "trustllm" if sample is None else f"trustllm-s{sample}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _manifest(name: str, version: str, description: str, subtasks: dict[str, list[dict]],
              quick: int, source: dict[str, Any]) -> str:
    lines = [
        "# Written by `trust-tui import trustllm`; run it again rather than editing this file.",
        "format = 1", f"name = {_toml(name)}", f"version = {_toml(version)}",
        'license = "MIT (TrustLLM dataset); the source datasets keep their own licenses"',
        f"description = {_toml(description)}", f"source = {_toml(source)}", "",
        "[generation]", "max_tokens = 64", "temperature = 0.0", "seed = 42", "stop = []", "",
        "[profiles.quick]", f"per_subtask = {quick}",
    ]
    for dimension in DIMENSIONS:
        subs = [s for s in SUBTASKS if s.dimension == dimension and s.name in subtasks]
        if not subs:
            continue
        lines += ["", f"[dimensions.{dimension}]"]
        for sub in subs:
            generation: dict[str, Any] = {"max_tokens": sub.max_tokens}
            if sub.stop:
                generation["stop"] = list(sub.stop)
            lines += [
                "", f"[dimensions.{dimension}.subtasks.{sub.name}]",
                f"title = {_toml(sub.title)}", f"description = {_toml(sub.description)}",
                f"trustllm = {_toml(sub.trustllm)}", f'items = "{dimension}/{sub.name}.jsonl"',
                f"scorer = {_toml(sub.scorer)}",
            ]
            if sub.scorer_options:
                lines.append(f"scorer_options = {_toml(sub.scorer_options)}")
            lines += [f"metric = {_toml(sub.metric)}", f"aggregate = {_toml(sub.aggregate)}"]
            if sub.aggregate_options:
                lines.append(f"aggregate_options = {_toml(sub.aggregate_options)}")
            lines += [f"direction = {_toml(sub.direction)}", f"summary = {_toml(sub.summary)}",
                      f"generation = {_toml(generation)}"]
    return "\n".join(lines) + "\n"


def _jsonl(items: list[dict]) -> bytes:
    return "".join(json.dumps(i, ensure_ascii=False, sort_keys=True) + "\n" for i in items).encode("utf-8")


# --------------------------------------------------------------------------- the import


def import_dataset(path: str | Path, sample: int | None = None, seed: int = 0,
                   destination: Path | None = None) -> ImportResult:
    """Read TrustLLM's dataset at ``path``, write the bundle (``trustllm`` or ``trustllm-s<N>``)
    under ``destination`` (default: the user's bundles dir) and report every file."""
    started = time.perf_counter()
    if sample is not None and sample < 1:
        raise TrustError("--sample must be at least 1")
    root = Path(path).expanduser()
    if not root.exists():
        raise TrustError(f"{root}: no such file or directory")
    source = _Source(root)
    name = bundle_name(sample)
    notes: list[str] = []
    missing_scorers = {s.scorer for s in SUBTASKS} - set(scorer_registry.names())
    for scorer in sorted(missing_scorers):
        dropped = ", ".join(s.name for s in SUBTASKS if s.scorer == scorer)
        notes.append(f"scorer '{scorer}' is not installed: sub-task {dropped} left out")
    toxicity_missing = "toxicity" not in scorer_registry.names()
    if toxicity_missing:
        notes.append("scorer 'toxicity' is not installed: sub-task toxicity left out")

    reports: list[FileReport] = []
    by_subtask: dict[str, list[dict]] = {}
    for spec in FILES:
        report = FileReport(spec.relpath)
        reports.append(report)
        located = source.locate(spec)
        if located is None:
            report.error = "file not found"
            continue
        report.found = located
        try:
            records = _load_records(source, located)
        except ValueError as exc:
            report.error = str(exc)
            continue
        report.records = len(records)
        converted = spec.convert(records, spec.relpath)
        for index, reason in converted.skipped:
            report.skipped.setdefault(reason, []).append(index)
        units: list[Unit] = converted.units
        report.usable = sum(len(u.records) for u in units)
        if sample is not None:
            units = stratified_sample(units, sample, seed, spec.relpath)
        report.imported = sum(len(u.records) for u in units)
        for unit in units:
            for sub_name, item in unit.items:
                sub = _BY_NAME[sub_name]
                if sub.scorer in missing_scorers or (sub_name == "toxicity" and toxicity_missing):
                    continue
                by_subtask.setdefault(sub_name, []).append(item)
                if sub_name not in report.subtasks:
                    report.subtasks.append(sub_name)
    if not any(r.found for r in reports):
        raise TrustError(f"{root}: no TrustLLM dataset files found (expected e.g. safety/jailbreak.json)")
    if not by_subtask:
        raise TrustError(f"{root}: no usable records in TrustLLM's files")

    files = {f"{_BY_NAME[name_].dimension}/{name_}.jsonl": _jsonl(items) for name_, items in by_subtask.items()}
    quick = 20 if sample is None else max(len(items) for items in by_subtask.values())
    kept = sum(r.imported for r in reports)
    description = (
        f"TrustLLM (Huang et al., 2024), imported from its dataset by trust-tui: {kept} records of "
        f"{sum(1 for r in reports if r.found)} files"
        + (f", a stratified sample of up to {sample} per file (seed {seed})" if sample else "")
        + ". Scorers and metrics follow TrustLLM's evaluation code with local replacements for its "
        "online judges; see docs/trustllm.md.")
    body = _manifest(name, "{version}", description, by_subtask, quick, {})
    digest = hashlib.sha256(body.encode())
    for relpath in sorted(files):
        digest.update(relpath.encode() + b"\0" + files[relpath])
    version = f"{IMPORTER_VERSION}+{digest.hexdigest()[:10]}"
    source_table = {"dataset": "TrustLLM", "path": str(root.resolve()),
                    "imported": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
                    "importer": IMPORTER_VERSION}
    if sample is not None:
        source_table.update(sample=sample, seed=seed)

    target_root = destination or paths.user_bundles_dir()
    target = target_root / name
    result = ImportResult(name, target, reports, sum(len(v) for v in by_subtask.values()), 0.0,
                          False, sample, seed, notes)
    if _existing_version(target) == version:
        result.unchanged = True  # same data, same importer: keep the bundle (and its hash) as is
    else:
        _write(target, _manifest(name, version, description, by_subtask, quick, source_table), files)
    (target / REPORT_NAME).write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")
    result.seconds = time.perf_counter() - started
    return result


def _existing_version(target: Path) -> str | None:
    try:
        text = (target / "bundle.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def _write(target: Path, manifest: str, files: dict[str, bytes]) -> None:
    """Write into a fresh directory beside the target, check it loads, then swap it in, so an
    interrupted import never leaves half a bundle."""
    paths.ensure(target.parent)
    staging = target.parent / f".{target.name}.importing"
    if staging.exists():
        shutil.rmtree(staging)
    for relpath, data in files.items():
        (staging / relpath).parent.mkdir(parents=True, exist_ok=True)
        (staging / relpath).write_bytes(data)
    (staging / "bundle.toml").write_text(manifest, encoding="utf-8")
    try:
        bundles.load_dir(staging)
    except TrustError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = target.parent / f".{target.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def summary_counts(result: ImportResult) -> Counter:
    """Reasons for skipping, over all files (for a one-line summary)."""
    counts: Counter = Counter()
    for report in result.files:
        for reason, indexes in report.skipped.items():
            counts[reason] += len(indexes)
    return counts
