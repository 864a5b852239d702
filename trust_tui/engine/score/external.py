"""Score answers produced elsewhere: a bundle's items answered by another tool, without a model.

Two inputs: JSON Lines of ``{"id": ..., "answer": ...}`` for any bundle (``id`` is an item id, or
``subtask:id`` / a ``subtask`` field where ids repeat across sub-tasks), and TrustLLM's generation
results (its per-file JSON lists whose records carry the prompt and the model's ``res``), matched to
the imported TrustLLM bundle by prompt text. Either way the answers go through the run loop via
``ReplayBackend``, so they are stored, scored, shown and exported like any run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from trust_tui.engine.run import api

from trust_tui.engine import bundles
from trust_tui.engine.backends.replay import ReplayBackend, messages_key
from trust_tui.engine.run.loop import RunOutcome, RunSpec
from trust_tui.engine.run.store import Store
from trust_tui.errors import TrustError


@dataclass(frozen=True)
class Answers:
    by_messages: dict[str, str]  # messages_key(item.messages) -> answer
    fingerprint: str  # sha256 of the answer set (file bytes, or the sorted results)
    source: str  # what the user gave, for skip reasons and the run record
    matched: int  # bundle items that have an answer
    total: int  # bundle items of the profile


def _user_text(item) -> str:
    users = [m["content"] for m in item.messages if m.get("role") == "user"]
    return users[-1] if users else ""


def answers_from_jsonl(path: str | Path, bundle: bundles.Bundle, profile: str = "full") -> Answers:
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrustError(f"{path}: cannot read the answers ({exc.strerror or exc})") from None
    workload = bundle.select(profile)
    by_uid = {item.uid: item for _, item in workload}
    by_id: dict[str, list] = {}
    for _, item in workload:
        by_id.setdefault(item.id, []).append(item)
    found: dict[str, str] = {}
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrustError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("answer"), str) or "id" not in record:
            raise TrustError(f"{path}:{number}: each line needs an \"id\" and a string \"answer\"")
        ident = str(record["id"])
        if record.get("subtask"):
            ident = f"{record['subtask']}:{ident}"
        if ident in by_uid:
            item = by_uid[ident]
        elif len(by_id.get(ident, [])) == 1:
            item = by_id[ident][0]
        elif ident in by_id:
            raise TrustError(f"{path}:{number}: id {ident!r} is in several sub-tasks of {bundle.name}: "
                             f"give \"subtask\" or \"<subtask>:<id>\" (e.g. {by_id[ident][0].uid!r})")
        else:
            raise TrustError(f"{path}:{number}: no item {ident!r} in bundle {bundle.name} ({profile} profile)")
        if item.uid in found:
            raise TrustError(f"{path}:{number}: a second answer for {item.uid}")
        found[item.uid] = record["answer"]
    if not found:
        raise TrustError(f"{path}: no answers in the file")
    by_messages = {messages_key(by_uid[uid].messages): text for uid, text in found.items()}
    return Answers(by_messages, hashlib.sha256(raw).hexdigest(), str(path), len(found), len(workload))


def _result_records(root: Path):
    files = [root] if root.is_file() else sorted(root.rglob("*.json"))
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TrustError(f"{file}: not a JSON file of results ({exc})") from None
        if isinstance(data, list):
            for record in data:
                if isinstance(record, dict):
                    yield file, record


def answers_from_trustllm(root: str | Path, bundle: bundles.Bundle, profile: str = "full") -> Answers:
    """TrustLLM generation results (records with ``prompt`` and ``res``) matched to ``bundle``'s
    items by the prompt text; a prompt that several records answer differently is ambiguous and
    left unanswered (the item is skipped with the reason)."""
    root = Path(root).expanduser()
    if not root.exists():
        raise TrustError(f"{root}: no such file or directory")
    answers: dict[str, str] = {}
    conflicting: set[str] = set()
    digest = hashlib.sha256()
    for file, record in _result_records(root):
        prompt, res = record.get("prompt"), record.get("res")
        if not isinstance(prompt, str) or not isinstance(res, str):
            continue
        if prompt in answers and answers[prompt] != res:
            conflicting.add(prompt)
        answers[prompt] = res
    if not answers:
        raise TrustError(f"{root}: no TrustLLM results found (JSON lists of records with \"prompt\" and \"res\")")
    for prompt in sorted(answers):
        digest.update(prompt.encode() + b"\0" + answers[prompt].encode() + b"\0")
    workload = bundle.select(profile)
    by_messages = {}
    for _, item in workload:
        text = answers.get(_user_text(item))
        if text is not None and _user_text(item) not in conflicting:
            by_messages[messages_key(item.messages)] = text
    if not by_messages:
        raise TrustError(f"{root}: none of its {len(answers)} results matches a prompt of bundle {bundle.name} "
                         "(were they generated from the same TrustLLM dataset?)")
    matched = sum(1 for _, item in workload if messages_key(item.messages) in by_messages)
    return Answers(by_messages, digest.hexdigest(), str(root), matched, len(workload))


def score(answers: Answers, bundle: str, model_name: str, profile: str = "full",
          store: Store | None = None, listener: Callable | None = None) -> RunOutcome:
    """Record and score ``answers`` as a run of ``bundle`` by ``model_name``."""
    if not model_name.strip():
        raise TrustError("name the model that produced the answers (--model-name)")
    backend = ReplayBackend(answers.by_messages, answers.fingerprint, model_name.strip(), answers.source)
    return api.run(spec=RunSpec(bundle=bundle, profile=profile), store=store, backend=backend,
                   listener=listener)


def describe(answers: Answers) -> str:
    left = answers.total - answers.matched
    return (f"{answers.matched} of {answers.total} items answered by {answers.source}"
            + (f" ({left} without an answer are skipped)" if left else ""))
