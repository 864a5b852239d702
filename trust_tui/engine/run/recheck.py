"""The determinism check: re-ask a stratified sample of a run's items, bypassing the cache.

"Is that reproducible?" Greedy decoding in llama.cpp is not bit-identical across batch shapes
(../shared/NOTES.md), so the same model can give a different answer, and sometimes a different
verdict, depending on what it was batched with. The sample is asked twice: once all together (the
batch shape of a run) and once one request at a time (alone). Each pass reports the share of answers
identical to the stored ones and the verdicts that changed, per sub-task. Sampling runs
(temperature > 0) are asked again with other seeds instead, so the figure is verdict drift over seeds.
Nothing here is written to the answer cache: the stored answers stay the run's answers.
"""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from trust_tui.engine.run.loop import item_from_json, safe_score
from trust_tui.engine.run.records import RunRecord
from trust_tui.engine.run.store import Store
from trust_tui.engine.types import DoneEvent, ErrorEvent, GenSettings, Request

DEFAULT_SAMPLE = 24


@dataclass
class PassResult:
    mode: str  # "batched" | "alone" | "seed+1" ...
    asked: int = 0
    identical: int = 0  # answers equal to the stored one, character for character
    changed_verdicts: int = 0
    failed: int = 0  # requests the backend could not answer
    by_subtask: dict[str, dict[str, int]] = field(default_factory=dict)  # id -> asked/identical/changed
    examples: list[dict] = field(default_factory=list)  # a few changed verdicts, for the report

    @property
    def identical_share(self) -> float | None:
        return self.identical / self.asked if self.asked else None


@dataclass
class Recheck:
    run_id: int
    sample: int
    sampling: bool  # the run sampled (temperature > 0): passes use other seeds
    passes: list[PassResult]

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "sample": self.sample, "sampling": self.sampling,
                "passes": [dict(p.__dict__, identical_share=p.identical_share) for p in self.passes]}


@dataclass(frozen=True)
class _Planned:
    uid: str
    subtask: str
    item: Any
    prompt: str
    settings: GenSettings
    stored_text: str
    stored_score: tuple[Any, Any]
    scorer: str
    options: Mapping[str, Any]


def _settings(raw: str) -> GenSettings:
    data = json.loads(raw or "{}")
    known = {k: v for k, v in data.items() if k in GenSettings.__dataclass_fields__}
    if "stop" in known:
        known["stop"] = tuple(known["stop"])
    return GenSettings(**known)


def stratified(uids_by_subtask: Mapping[str, Sequence[str]], n: int, seed: int = 0) -> list[str]:
    """Up to ``n`` uids, round-robin over sub-tasks (each shuffled with ``seed``), so a small sample
    still touches every sub-task."""
    rng = random.Random(seed)
    queues = {}
    for sub in sorted(uids_by_subtask):
        uids = list(uids_by_subtask[sub])
        rng.shuffle(uids)
        queues[sub] = uids
    chosen: list[str] = []
    while len(chosen) < n and any(queues.values()):
        for sub in sorted(queues):
            if queues[sub] and len(chosen) < n:
                chosen.append(queues[sub].pop())
    return chosen


def plan(store: Store, run_ref: int | str, n: int = DEFAULT_SAMPLE, seed: int = 0) -> tuple[dict, list[_Planned]]:
    run = store.run(run_ref)
    snaps = run.snapshot_by_id
    rows = {r["uid"]: r for r in store.item_rows(run["id"]) if r.get("status") == "done" and r.get("answer") is not None}
    by_sub: dict[str, list[str]] = defaultdict(list)
    for uid, row in rows.items():
        by_sub[row["subtask"]].append(uid)
    planned = []
    for uid in stratified(by_sub, n, seed):
        row = rows[uid]
        snap = snaps[row["subtask"]]
        response = store.response(row["response_key"]) or {}
        planned.append(_Planned(
            uid=uid, subtask=row["subtask"], item=item_from_json(row.item_data),
            prompt=response.get("prompt", ""), settings=_settings(response.get("settings", "")),
            stored_text=row["answer"], stored_score=(row.get("score_value"), row.get("score_label")),
            scorer=snap["scorer"], options=snap["scorer_options"]))
    return run, planned


def _ask(backend, planned: Sequence[_Planned], settings_for, together: bool,
         cancel: threading.Event, on_answer: Callable[[], None] | None) -> dict[str, str | None]:
    answers: dict[str, str | None] = {}
    requests = [Request(f"recheck-{i}", p.prompt, p.item.messages, settings_for(p)) for i, p in enumerate(planned)]
    groups = [requests] if together else [[r] for r in requests]
    for group in groups:
        _check(cancel)
        for event in backend.generate(iter(group), cancel):
            if isinstance(event, DoneEvent):
                answers[event.request_id] = event.response.text
            elif isinstance(event, ErrorEvent):
                answers[event.request_id] = None
            else:
                continue
            if on_answer is not None:
                on_answer()
        # A pass cut short is not tallied: its missing answers would count as failures.
        _check(cancel)
    return answers


def _check(cancel: threading.Event) -> None:
    if cancel.is_set():
        from trust_tui.errors import Cancelled

        raise Cancelled("determinism check cancelled")


def _tally(mode: str, planned: Sequence[_Planned], answers: Mapping[str, str | None]) -> PassResult:
    result = PassResult(mode)
    for index, p in enumerate(planned):
        sub = result.by_subtask.setdefault(p.subtask, {"asked": 0, "identical": 0, "changed": 0})
        text = answers.get(f"recheck-{index}")
        result.asked += 1
        sub["asked"] += 1
        if text is None:
            result.failed += 1
            continue
        if text == p.stored_text:
            result.identical += 1
            sub["identical"] += 1
            continue
        score = safe_score(p.item, text, p.scorer, p.options)
        if (score.value, score.label) != p.stored_score:
            result.changed_verdicts += 1
            sub["changed"] += 1
            if len(result.examples) < 5:
                result.examples.append({"uid": p.uid, "before": p.stored_score[1] or p.stored_score[0],
                                        "after": score.label or score.value})
    return result


def recheck(store: Store, run_ref: int | str, backend, n: int = DEFAULT_SAMPLE, seed: int = 0,
            cancel: threading.Event | None = None,
            on_answer: Callable[[], None] | None = None) -> Recheck:
    """Ask the sample again through ``backend`` (the run's model, loaded by the caller).

    ``cancel`` stops it mid-pass (``Cancelled`` is raised; nothing is tallied or saved);
    ``on_answer`` is called once per answer (or failed request), over both passes."""
    cancel = cancel or threading.Event()
    run, planned = plan(store, run_ref, n, seed)
    sampling = any(p.settings.temperature > 0 for p in planned)

    def ask(settings_for, together: bool) -> dict[str, str | None]:
        return _ask(backend, planned, settings_for, together, cancel, on_answer)

    passes = []
    if sampling:
        for offset in (1, 2):
            answers = ask(lambda p, o=offset: replace(p.settings, seed=p.settings.seed + o), True)
            passes.append(_tally(f"seed+{offset}", planned, answers))
    else:
        passes.append(_tally("batched", planned, ask(lambda p: p.settings, True)))
        passes.append(_tally("alone", planned, ask(lambda p: p.settings, False)))
    return Recheck(run_id=int(run["id"]), sample=len(planned), sampling=sampling, passes=passes)


def describe(result: Recheck) -> list[str]:
    lines = []
    for p in result.passes:
        share = f"{100 * p.identical_share:.0f}%" if p.identical_share is not None else "–"
        subs = [f"{sid.split('/', 1)[-1]} {c['changed']}" for sid, c in sorted(p.by_subtask.items()) if c["changed"]]
        lines.append(f"recheck {p.mode}: {p.identical}/{p.asked} answers identical ({share}), "
                     f"{p.changed_verdicts} verdict{'' if p.changed_verdicts == 1 else 's'} changed" + (f" ({', '.join(subs)})" if subs else "")
                     + (f", {p.failed} not answered" if p.failed else ""))
    return lines


def save(store: Store, result: Recheck) -> int:
    return store.save_recheck(result.run_id, result.sample, result.as_dict())


def latest(store: Store, run_id: int) -> dict | None:
    """The run's most recent determinism check (its as_dict form), or None."""
    return store.latest_recheck(run_id)


def lines_of(saved: Mapping[str, Any]) -> list[str]:
    """describe() for a saved check (the report and the exports read it back from the store)."""
    passes = [PassResult(**{k: v for k, v in p.items() if k != "identical_share"}) for p in saved["passes"]]
    return describe(Recheck(saved["run_id"], saved["sample"], saved["sampling"], passes))


def open_run_backend(store: Store, run: Mapping[str, Any], threads: int | None = None,
                     n_gpu_layers: int | None = None, worker: bool = False):
    """The run's own model file, loaded again with the run's parallel and context, after checking
    it is still the file the run's answers came from. ``worker``: in a child process
    (backends/worker.py), as the app runs models, so a llama.cpp abort ends the check, not the app."""
    from trust_tui.engine.run import api
    from trust_tui.engine.models import files as models
    from trust_tui.errors import TrustError

    settings = RunRecord.of(run).backend_settings
    path = run.get("model_path")
    if settings.get("kind") != "llamacpp" or not path:
        raise TrustError(f"run {run['id']}: its answers did not come from a local model file "
                         f"({settings.get('kind') or 'unknown backend'}); a determinism check re-asks the model")
    model = models.identify(path, store)
    if model.sha256 != run["model_id"]:
        raise TrustError(f"{path}: this is not the file run {run['id']} answered with (its sha256 changed)")
    options = api.BackendOptions(n_ctx=settings.get("n_ctx"), threads=threads, n_gpu_layers=n_gpu_layers,
                                 parallel=settings.get("parallel"), worker=worker)
    return api.open_backend(model, options, [], None)
