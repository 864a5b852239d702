"""The run loop: plan → cache lookup → generate → store → score. Resumable by construction.

A run is its spec. Running a spec asks the store what is missing and generates only that,
whether the last attempt was killed, cancelled or never happened; an identical second run
generates nothing. The run loop is the only writer of answers and scores; listeners (the CLI's
progress bar, the app's screens) receive ``RunEvent``s and read the store.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping

from trust_tui.engine import bundles as bundle_mod
from trust_tui.engine.backends.protocol import Backend
from trust_tui.engine.scorers import base as scorer_registry
from trust_tui.engine.run.records import item_of
from trust_tui.engine.run.store import Store, canonical_json, response_key, run_owner, sha256_text
from trust_tui.engine.types import (
    DoneEvent, ErrorEvent, GenSettings, Item, Response, Score, TokenEvent,
)
from trust_tui.errors import BackendError, Cancelled, TrustError


@dataclass(frozen=True)
class RunSpec:
    """What determines a run's answers. Runtime knobs (threads, GPU layers) are not part of it."""

    bundle: str = "trust-core"
    profile: str = "quick"
    dimensions: tuple[str, ...] = ()
    subtasks: tuple[str, ...] = ()
    generation: Mapping[str, Any] = field(default_factory=dict)  # sampler overrides for every sub-task
    # Items per sub-task instead of the profile's (budget mode, engine/run/budget.py): the bundle's own
    # label-balanced, pair-keeping selection at that size. None: the profile decides.
    per_subtask: int | None = None


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class RunPlanned:
    run_id: int
    total: int
    already_done: int
    cached: int
    to_generate: int
    skipped: int
    resumed: bool


@dataclass(frozen=True)
class ItemStarted:
    uid: str
    subtask: str
    prompt: str


@dataclass(frozen=True)
class ItemToken:
    uid: str
    subtask: str
    text: str


@dataclass(frozen=True)
class ItemFinished:
    uid: str
    subtask: str
    status: str  # "done" | "skipped"
    cached: bool
    score: Score | None
    answer: str
    reason: str = ""
    completion_tokens: int = 0


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    status: str  # "finished" | "cancelled" | "failed"
    generated: int
    cached: int
    skipped: int
    tokens_generated: int
    gen_seconds: float
    wall_seconds: float
    error: str = ""


RunEvent = RunPlanned | ItemStarted | ItemToken | ItemFinished | RunFinished
Listener = Callable[[RunEvent], None]


@dataclass
class RunOutcome:
    run_id: int
    status: str
    total: int
    generated: int
    cached: int
    skipped: int
    tokens_generated: int
    wall_seconds: float
    gen_seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_generated / self.gen_seconds if self.gen_seconds else 0.0

    def summary_line(self) -> str:
        return f"generated {self.generated} · cached {self.cached} · skipped {self.skipped}"


# --------------------------------------------------------------------------- hashing helpers


def item_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.id, "subtask": item.subtask, "messages": [dict(m) for m in item.messages],
        "gold": item.gold, "choices": dict(item.choices) if item.choices else None,
        "pair": item.pair, "variant": item.variant,
        "group": dict(item.group) if item.group else None, "tags": list(item.tags),
        "meta": dict(item.meta), "source": item.source,
    }


def item_from_json(data: Mapping[str, Any]) -> Item:
    return Item(
        id=data["id"], subtask=data["subtask"],
        messages=tuple(dict(m) for m in data["messages"]), gold=data.get("gold"),
        choices=data.get("choices"), pair=data.get("pair"), variant=data.get("variant"),
        group=data.get("group"), tags=tuple(data.get("tags") or ()), meta=data.get("meta") or {},
        source=data.get("source", ""),
    )


def item_hash(item: Item, scorer_options: Mapping[str, Any]) -> str:
    """What a score depends on besides the answer: the item's scoring fields and the options."""
    data = item_json(item)
    data.pop("source")
    return sha256_text(canonical_json({"item": data, "options": scorer_options}))[:32]


def subtask_snapshot(sub: bundle_mod.Subtask, overrides: Mapping[str, Any]) -> dict[str, Any]:
    scorer = scorer_registry.get(sub.scorer)
    return {
        "id": sub.id, "title": sub.title, "description": sub.description,
        "trustllm": sub.trustllm, "metric": sub.metric, "aggregate": sub.aggregate,
        "aggregate_options": dict(sub.aggregate_options), "direction": sub.direction,
        "summary": sub.summary, "scorer": sub.scorer, "scorer_version": scorer.version,
        "scorer_options": dict(sub.scorer_options),
        "generation": sub.generation.merged(overrides).to_json(),
    }


def spec_hash(spec: RunSpec, bundle: bundle_mod.Bundle, backend: Backend) -> str:
    return sha256_text(canonical_json({
        "model": backend.info.model_id, "backend": backend.info.kind,
        "template": backend.info.template_hash,
        "bundle": [bundle.name, bundle.version, bundle.content_hash],
        "profile": spec.profile, "dimensions": sorted(spec.dimensions),
        "subtasks": sorted(spec.subtasks), "generation": dict(spec.generation),
        **({"per_subtask": spec.per_subtask} if spec.per_subtask else {}),
    }))


def comparability_hash(bundle: bundle_mod.Bundle, spec: RunSpec, snapshots: list[dict],
                       template_source: str) -> str:
    """Everything that decides what a score means, except the model: two scorecards with the
    same hash measured the same thing."""
    from trust_tui.engine.run.store import KEY_VERSION

    return sha256_text(canonical_json({
        "bundle": [bundle.name, bundle.version, bundle.content_hash],
        "profile": spec.profile, "dimensions": sorted(spec.dimensions),
        "subtasks": sorted(spec.subtasks),
        **({"per_subtask": spec.per_subtask} if spec.per_subtask else {}),
        "scoring": [[s["id"], s["scorer"], s["scorer_version"], s["scorer_options"],
                     s["aggregate"], s["aggregate_options"], s["generation"]] for s in snapshots],
        "template": template_source, "key_version": KEY_VERSION,
    }))[:12]


def safe_score(item: Item, text: str, scorer_name: str, options: Mapping[str, Any]) -> Score:
    scorer = scorer_registry.get(scorer_name)
    try:
        return scorer(item, text, options)
    except Exception as exc:  # noqa: BLE001 - a scorer bug must not lose the run's answers
        return Score(None, "scorer-error", f"scorer {scorer_name} failed: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- the loop


@dataclass
class _Planned:
    uid: str
    item: Item
    sub: bundle_mod.Subtask
    key: str
    prompt: str
    settings: GenSettings
    item_hash: str


class Runner:
    def __init__(self, store: Store, backend: Backend, spec: RunSpec,
                 bundle: bundle_mod.Bundle | None = None,
                 model_record: Mapping[str, Any] | None = None,
                 listener: Listener | None = None,
                 on_stage: Callable[[str], None] | None = None):
        self.store = store
        self.backend = backend
        self.bundle = bundle or bundle_mod.load(spec.bundle)
        if spec.dimensions and set(spec.dimensions) == set(self.bundle.dimensions):
            spec = replace(spec, dimensions=())  # "every dimension" has one spelling, one spec hash
        self.spec = spec
        self.model_record = dict(model_record or {})
        self.listener = listener or (lambda event: None)
        self.on_stage = on_stage or (lambda text: None)
        self.run_id: int | None = None

    def _emit(self, event: RunEvent) -> None:
        self.listener(event)

    def plan(self) -> list[_Planned]:
        overrides = dict(self.spec.generation)
        planned = []
        for sub, item in self.bundle.select(self.spec.profile, self.spec.dimensions, self.spec.subtasks,
                                            per_subtask=self.spec.per_subtask):
            try:
                settings = sub.generation.merged(overrides)
            except KeyError as exc:
                raise TrustError(f"unknown generation setting {exc.args[0]!r}") from None
            prompt = self.backend.render(item.messages)
            key = response_key(self.backend.info.model_id, prompt, settings)
            planned.append(_Planned(item.uid, item, sub, key, prompt, settings,
                                    item_hash(item, sub.scorer_options)))
        return planned

    def _open_run(self, planned: list[_Planned]) -> tuple[int, bool]:
        info = self.backend.info
        overrides = dict(self.spec.generation)
        seen, subs = set(), []
        for p in planned:
            if p.sub.id not in seen:
                seen.add(p.sub.id)
                subs.append(p.sub)
        snapshots = [subtask_snapshot(s, overrides) for s in subs]
        digest = spec_hash(self.spec, self.bundle, self.backend)
        existing = self.store.find_resumable(digest)
        now = time.time()
        if existing:
            self.store.update_run(existing["id"], status="running", error=None, owner=run_owner(),
                                  backend=canonical_json(dict(info.settings, kind=info.kind)),
                                  context=canonical_json(dict(info.context)))
            run_id, resumed = existing["id"], True
        else:
            run_id = self.store.create_run({
                "spec_hash": digest,
                "spec": canonical_json({
                    "bundle": self.spec.bundle, "profile": self.spec.profile,
                    "dimensions": list(self.spec.dimensions), "subtasks": list(self.spec.subtasks),
                    "generation": overrides, "model_path": self.model_record.get("path"),
                    **({"per_subtask": self.spec.per_subtask} if self.spec.per_subtask else {}),
                }),
                "model_id": info.model_id, "model_path": self.model_record.get("path", ""),
                "model_name": self.model_record.get("file_name", info.model_name),
                "bundle": self.bundle.name, "bundle_version": self.bundle.version,
                "bundle_hash": self.bundle.content_hash, "profile": self.spec.profile,
                # The column holds the bundle's dimension titles (id -> title) for scorecards.
                "dimensions": canonical_json(self.bundle.dimension_titles),
                "subtasks": canonical_json(snapshots),
                "backend": canonical_json(dict(info.settings, kind=info.kind)),
                "context": canonical_json(dict(info.context)),
                "template_source": info.template_source,
                "template_warning": info.template_warning,
                "comparability_hash": comparability_hash(self.bundle, self.spec, snapshots,
                                                         info.template_source),
                "status": "running", "owner": run_owner(), "started": now, "total": len(planned),
                "generated": 0, "cached": 0, "skipped": 0, "tokens_generated": 0,
                "tokens_prompt": 0, "gen_seconds": 0.0, "wall_seconds": 0.0,
            })
            resumed = False
        self.store.add_run_items(run_id, (
            {"uid": p.uid, "subtask": p.sub.id, "item_id": p.item.id, "position": index,
             "item": canonical_json(item_json(p.item)), "item_hash": p.item_hash,
             "response_key": p.key, "status": "pending", "reason": None, "cached": 0}
            for index, p in enumerate(planned)
        ))
        return run_id, resumed

    def execute(self, cancel: threading.Event | None = None) -> RunOutcome:
        cancel = cancel or threading.Event()
        wall_started = time.perf_counter()
        planned = self.plan()
        cached_rows = self.store.responses({p.key for p in planned})
        self._load_backend(planned, cached_rows)
        self.on_stage("running")
        run_id, resumed = self._open_run(planned)
        self.run_id = run_id
        run_row = self.store.run(run_id)
        counters = {"generated": 0, "cached": 0, "skipped": 0, "tokens": 0, "prompt_tokens": 0,
                    "gen_s": 0.0, "already": 0}
        statuses = {row["uid"]: row for row in self.store.run_items(run_id)}
        to_generate: dict[str, list[_Planned]] = {}
        n_ctx = self.backend.info.n_ctx
        finished_events: list[RunEvent] = []
        for p in planned:
            status = statuses.get(p.uid, {})
            if status.get("status") == "done" and self.store.score_for(
                    p.key, p.item_hash, p.sub.scorer, scorer_registry.get(p.sub.scorer).version):
                counters["already"] += 1
                counters["cached"] += 1
                finished_events.append(self._finished_from_store(p, cached_rows.get(p.key)))
                continue
            if p.key in cached_rows:
                text = cached_rows[p.key]["text"]
                score = safe_score(p.item, text, p.sub.scorer, p.sub.scorer_options)
                self.store.record_cached(run_id, p.uid, self._score_row(p, score))
                counters["cached"] += 1
                finished_events.append(ItemFinished(p.uid, p.sub.id, "done", True, score, text))
                continue
            if p.key in to_generate:
                to_generate[p.key].append(p)
                continue
            if n_ctx:
                n_prompt = self.backend.count_tokens(p.prompt)
                if n_prompt is not None and n_prompt + p.settings.max_tokens > n_ctx:
                    reason = (f"prompt of {n_prompt} tokens + max_tokens {p.settings.max_tokens} "
                              f"exceeds the context of {n_ctx} tokens (raise --ctx)")
                    self.store.skip_item(run_id, p.uid, reason)
                    counters["skipped"] += 1
                    finished_events.append(ItemFinished(p.uid, p.sub.id, "skipped", False, None, "", reason))
                    continue
            to_generate[p.key] = [p]
        self._emit(RunPlanned(run_id, len(planned), counters["already"],
                              counters["cached"] - counters["already"],
                              sum(len(v) for v in to_generate.values()), counters["skipped"], resumed))
        for event in finished_events:
            self._emit(event)

        status, error = "finished", ""
        try:
            self._generate(run_id, to_generate, cancel, counters)
            if cancel.is_set() and self.store.has_pending(run_id):
                status = "cancelled"
        except KeyboardInterrupt:
            status = "cancelled"
        except TrustError as exc:
            # A backend may say how the run ended: a server fault leaves it "interrupted".
            status, error = getattr(exc, "run_status", "failed"), str(exc)
        except BaseException as exc:
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            self._close_run(run_id, run_row, status, error, counters, wall_started)
            raise
        outcome = self._close_run(run_id, run_row, status, error, counters, wall_started)
        if status == "cancelled":
            raise Cancelled(f"cancelled: run {run_id} kept {outcome.generated + outcome.cached} "
                            f"finished items; run the same command again to resume")
        if status == "failed":
            raise BackendError(error)
        if status == "interrupted":
            raise BackendError(f"{error}; run {run_id} interrupted with {outcome.generated + outcome.cached} "
                               "items kept: run the same command again to resume")
        return outcome

    def _load_backend(self, planned: list[_Planned], cached_rows: Mapping[str, Any]) -> None:
        """A backend that reads its weights on demand (llama.cpp with ``defer_load``) reads them
        now when some answer is not in the cache: before the run is opened, so a model that
        cannot load fails the command as a model error and leaves no failed run behind; and
        never when everything is cached. Other backends have nothing to load."""
        load = getattr(self.backend, "load_model", None)
        if load is not None and any(p.key not in cached_rows for p in planned):
            load(self.on_stage)

    def _close_run(self, run_id, run_row, status, error, counters, wall_started) -> RunOutcome:
        wall = time.perf_counter() - wall_started
        total = run_row["total"]
        fields = {
            "status": status, "error": error or None, "finished": time.time(),
            "generated": counters["generated"], "cached": counters["cached"],
            "skipped": counters["skipped"], "tokens_generated": counters["tokens"],
            "tokens_prompt": counters["prompt_tokens"], "gen_seconds": counters["gen_s"],
            "wall_seconds": wall,
            "context": canonical_json(dict(self.backend.info.context, peak_rss_mb=_peak_rss_mb())),
        }
        try:
            self.store.update_run(run_id, **fields)
        except TrustError:
            pass  # the disk is gone; every finished item is already committed
        self._emit(RunFinished(run_id, status, counters["generated"], counters["cached"],
                               counters["skipped"], counters["tokens"], counters["gen_s"], wall, error))
        return RunOutcome(run_id, status, total, counters["generated"], counters["cached"],
                          counters["skipped"], counters["tokens"], wall, counters["gen_s"])

    def _score_row(self, p: _Planned, score: Score) -> tuple[str, str, int, Score]:
        return (p.item_hash, p.sub.scorer, scorer_registry.get(p.sub.scorer).version, score)

    def _finished_from_store(self, p: _Planned, response: Mapping[str, Any] | None) -> ItemFinished:
        row = self.store.score_for(p.key, p.item_hash, p.sub.scorer,
                                   scorer_registry.get(p.sub.scorer).version)
        score = Score(row["value"], row["label"], row["reason"]) if row else None
        return ItemFinished(p.uid, p.sub.id, "done", True, score, (response or {}).get("text", ""))

    def _generate(self, run_id: int, to_generate: dict[str, list[_Planned]],
                  cancel: threading.Event, counters: dict) -> None:
        if not to_generate:
            return
        from trust_tui.engine.types import Request

        def requests() -> Iterator[Request]:
            for key, group in to_generate.items():
                if cancel.is_set():
                    return
                first = group[0]
                self._emit(ItemStarted(first.uid, first.sub.id, first.item.prompt_text))
                yield Request(key, first.prompt, first.item.messages, first.settings)

        started = time.perf_counter()
        try:
            self._consume(run_id, to_generate, requests(), cancel, counters)
        finally:
            # Wall time of the generation phase: with several sequences in flight, the sum of
            # per-answer times would count the same second many times over.
            counters["gen_s"] = time.perf_counter() - started

    def _consume(self, run_id, to_generate, requests, cancel, counters) -> None:
        for event in self.backend.generate(requests, cancel):
            group = to_generate.get(event.request_id)
            if group is None:
                continue
            if isinstance(event, TokenEvent):
                self._emit(ItemToken(group[0].uid, group[0].sub.id, event.text))
            elif isinstance(event, DoneEvent):
                self._record(run_id, group, event.response, counters)
            elif isinstance(event, ErrorEvent):
                if not event.skip:
                    raise BackendError(event.message)
                for p in group:
                    self.store.skip_item(run_id, p.uid, event.message)
                    counters["skipped"] += 1
                    self._emit(ItemFinished(p.uid, p.sub.id, "skipped", False, None, "", event.message))

    def _record(self, run_id: int, group: list[_Planned], response: Response, counters: dict) -> None:
        scores = {}
        for p in group:
            scores[p.uid] = self._score_row(p, safe_score(p.item, response.text, p.sub.scorer,
                                                          p.sub.scorer_options))
        first = group[0]
        self.store.record_answer(run_id, [p.uid for p in group], first.key,
                                 self.backend.info.model_id, first.prompt, first.settings,
                                 response, scores)
        counters["generated"] += 1
        counters["cached"] += len(group) - 1  # the same prompt asked twice is generated once
        counters["tokens"] += response.completion_tokens
        counters["prompt_tokens"] += response.prompt_tokens
        for p in group:
            self._emit(ItemFinished(p.uid, p.sub.id, "done", False, scores[p.uid][3], response.text,
                                    completion_tokens=response.completion_tokens))


def _peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far (the model, its KV cache and Python)."""
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    except (ImportError, OSError):
        return None


def rescore(store: Store, run_ref: int | str) -> tuple[int, int]:
    """Recompute missing scores of a run with the current scorer versions, from cached answers.

    Returns (items rescored, items unchanged). Generates nothing.
    """
    run = store.run(run_ref)
    snapshots = run.snapshots  # a fresh copy: the versions are updated below
    changed = 0
    for snap in snapshots:
        current = scorer_registry.get(snap["scorer"]).version
        if current != snap["scorer_version"]:
            snap["scorer_version"] = current
            changed += 1
    rescored = unchanged = 0
    by_id = {s["id"]: s for s in snapshots}
    for row in store.run_items(run["id"]):
        if row["status"] != "done":
            continue
        snap = by_id[row["subtask"]]
        if store.score_for(row["response_key"], row["item_hash"], snap["scorer"], snap["scorer_version"]):
            unchanged += 1
            continue
        response = store.response(row["response_key"])
        if response is None:
            continue
        item = item_from_json(item_of(row))
        score = safe_score(item, response["text"], snap["scorer"], snap["scorer_options"])
        store.save_score(row["response_key"], row["item_hash"], snap["scorer"], snap["scorer_version"], score)
        rescored += 1
    if changed:
        store.update_run(run["id"], subtasks=canonical_json(snapshots))
    return rescored, unchanged
