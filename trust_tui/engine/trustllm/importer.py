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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust_tui import paths
from trust_tui.engine import bundles
from trust_tui.engine.scorers import base as scorer_registry
from trust_tui.engine.trustllm import scorers as _trustllm_scorers  # noqa: F401  (registers them)
from trust_tui.engine.types import DIMENSIONS
from trust_tui.errors import TrustError
from trust_tui.importers.sampling import Unit, stratified_sample
from trust_tui.engine.trustllm.records import FILES, FileSpec
from trust_tui.engine.trustllm.subtasks import BY_NAME, SUBTASKS

IMPORTER_VERSION = "1.1.0"  # bump when items, scorers or settings of the bundle change
REPORT_NAME = "IMPORT_REPORT.json"

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
        if path.is_dir() and not any(path.rglob("*.json")):
            archives = sorted(path.rglob("dataset.zip"))  # the toolkit's repository, not unzipped
            path = archives[0] if len(archives) == 1 else path
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


def _scorers_needed(sub) -> set[str]:
    return {sub.scorer, "toxicity"} if sub.scorer == "trustllm_toxicity" else {sub.scorer}


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
    installed = set(scorer_registry.names())
    missing = {sub.name: sorted(_scorers_needed(sub) - installed) for sub in SUBTASKS}
    notes = [f"scorer '{missing[s.name][0]}' is not installed: sub-task {s.name} left out"
             for s in SUBTASKS if missing[s.name]]

    by_subtask: dict[str, list[dict]] = {}
    reports = [_import_file(spec, source, sample, seed, missing, by_subtask) for spec in FILES]
    if not any(r.found for r in reports):
        raise TrustError(f"{root}: no TrustLLM dataset files found (expected e.g. safety/jailbreak.json; "
                         "give the toolkit's dataset/ folder or its dataset.zip)")
    if not by_subtask:
        raise TrustError(f"{root}: no usable records in TrustLLM's files")

    name = bundle_name(sample)
    files = {f"{BY_NAME[sub].dimension}/{sub}.jsonl": _jsonl(items) for sub, items in by_subtask.items()}
    quick = 20 if sample is None else max(len(items) for items in by_subtask.values())
    description = (
        f"TrustLLM (Huang et al., 2024), imported from its dataset by trust-tui: "
        f"{sum(r.imported for r in reports)} records of {sum(1 for r in reports if r.found)} files"
        + (f", a stratified sample of up to {sample} per file (seed {seed})" if sample else "")
        + ". Scorers and metrics follow TrustLLM's evaluation code with local replacements for its "
        "online judges; see docs/trustllm.md.")
    # The version is a digest of everything but the source table, so that the same data imported
    # again (from another path, at another time) is recognised and left as it is.
    digest = hashlib.sha256(_manifest(name, "", description, by_subtask, quick, {}).encode())
    for relpath in sorted(files):
        digest.update(relpath.encode() + b"\0" + files[relpath])
    version = f"{IMPORTER_VERSION}+{digest.hexdigest()[:10]}"
    source_table: dict[str, Any] = {
        "dataset": "TrustLLM", "path": str(root.resolve()), "importer": IMPORTER_VERSION,
        "imported": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()}
    if sample is not None:
        source_table.update(sample=sample, seed=seed)

    target = (destination or paths.user_bundles_dir()) / name
    result = ImportResult(name, target, reports, sum(len(v) for v in by_subtask.values()), 0.0,
                          False, sample, seed, notes)
    if _existing_version(target) == version:
        result.unchanged = True
    else:
        _write(target, _manifest(name, version, description, by_subtask, quick, source_table), files)
    (target / REPORT_NAME).write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")
    result.seconds = time.perf_counter() - started
    return result


def _import_file(spec: FileSpec, source: _Source, sample: int | None, seed: int,
                 missing: dict[str, list[str]], by_subtask: dict[str, list[dict]]) -> FileReport:
    """One file's records into ``by_subtask``; the report says what became of each record."""
    report = FileReport(spec.relpath)
    located = source.locate(spec)
    if located is None:
        report.error = "file not found"
        return report
    report.found = located
    try:
        records = _load_records(source, located)
    except ValueError as exc:
        report.error = str(exc)
        return report
    report.records = len(records)
    converted = spec.convert(records, spec.relpath)
    for index, reason in converted.skipped:
        report.skipped.setdefault(reason, []).append(index)
    units: list[Unit] = converted.units
    report.usable = sum(len(u.records) for u in units)
    if sample is not None:
        units = stratified_sample(units, sample, seed, spec.relpath)
    for unit in units:
        kept, absent = False, ""
        for sub_name, item in unit.items:
            if missing[sub_name]:
                absent = missing[sub_name][0]
                continue
            kept = True
            by_subtask.setdefault(sub_name, []).append(item)
            if sub_name not in report.subtasks:
                report.subtasks.append(sub_name)
        if kept:
            report.imported += len(unit.records)
        else:
            report.skipped.setdefault(f"scorer '{absent}' is not installed", []).extend(unit.records)
    return report


def _existing_version(target: Path) -> str | None:
    try:
        text = (target / "bundle.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def _write(target: Path, manifest: str, files: dict[str, bytes]) -> None:
    """Write into a staging folder, check it loads, then swap it in, so an interrupted import
    never leaves half a bundle. The staging folder is one level deeper than bundles, so no
    bundle listing ever sees it."""
    staging = paths.ensure(target.parent / ".importing") / target.name
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
    old = staging.parent / f"{target.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    try:
        staging.parent.rmdir()
    except OSError:  # another import is staging there too
        pass
