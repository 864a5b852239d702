"""Typed records at the store's edge: what ``Store`` returns instead of sqlite rows.

A ``RunRecord`` is one row of ``runs`` with every column as a typed field and the JSON columns
decoded by properties (``snapshots``, ``backend_settings``, ``context_info``, ``spec_info``,
``dimension_titles``), so no reader decodes a column itself. An ``ItemRow`` is one item of a run
with its answer and its score under the run's scorer version (``Store.item_rows``).

Both keep a read-only Mapping interface (``record["status"]``, ``record.get(...)``, ``dict(record,
x=1)``) so code written against the old dict rows keeps working; an unknown key raises KeyError
(``get`` returns the default), a mistyped attribute raises AttributeError. ``as_dict()`` is the
plain row. A column added by a migration must be added here too (tests/test_store_records.py
compares the fields with the schema).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator


def decoded(text: str | None, default: Any) -> Any:
    """A JSON column's value; ``default`` for NULL or an empty string (columns written before a
    field existed, rows built by hand in tests)."""
    return json.loads(text) if text else default


class _Record(Mapping):
    """The read-only Mapping view of a dataclass record (its fields, in column order)."""

    _keys: ClassVar[tuple[str, ...]] = ()

    def __getitem__(self, key: str) -> Any:
        if key in self._keys:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self._keys}

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]):
        """A record of a sqlite row. A column the record does not know is a TypeError (a
        migration added a column and records.py was not told), never a silently dropped value."""
        return cls(**row)

    @classmethod
    def of(cls, row: Mapping[str, Any]):
        """``row`` as a record: itself when it is one; a plain mapping (a row built by hand)
        with its missing columns as NULL."""
        if isinstance(row, cls):
            return row
        return cls(**{key: row.get(key) for key in cls._keys})


def _with_keys(cls):
    cls._keys = tuple(f.name for f in dataclasses.fields(cls))
    return cls


@_with_keys
@dataclass(frozen=True, eq=False)  # eq from Mapping: a record equals the dict of its columns
class RunRecord(_Record):
    """One row of ``runs`` (store._m1, _m3)."""

    id: int | None = None
    spec_hash: str | None = None
    spec: str | None = None  # JSON: what was asked (spec_info)
    model_id: str | None = None
    model_path: str | None = None
    model_name: str | None = None
    bundle: str | None = None
    bundle_version: str | None = None
    bundle_hash: str | None = None
    profile: str | None = None
    dimensions: str | None = None  # JSON: dimension id -> title (dimension_titles)
    subtasks: str | None = None  # JSON: the sub-task snapshots (snapshots)
    backend: str | None = None  # JSON: backend kind and settings (backend_settings)
    context: str | None = None  # JSON: context size, threads, ... (context_info)
    template_source: str | None = None
    template_warning: str | None = None
    comparability_hash: str | None = None
    status: str | None = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    total: int | None = None
    generated: int | None = None
    cached: int | None = None
    skipped: int | None = None
    tokens_generated: int | None = None
    tokens_prompt: int | None = None
    gen_seconds: float | None = None
    wall_seconds: float | None = None
    owner: str | None = None  # "host:pid" of the process running it (_m3)

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        """The sub-task snapshots the run was planned with (id, scorer, scorer_version, metric…)."""
        return decoded(self.subtasks, [])

    @property
    def snapshot_by_id(self) -> dict[str, dict[str, Any]]:
        return {snap["id"]: snap for snap in self.snapshots}

    @property
    def subtask_ids(self) -> list[str]:
        return [snap["id"] for snap in self.snapshots]

    @property
    def scorer_versions(self) -> dict[str, tuple[str, int]]:
        """sub-task id -> (scorer, scorer version) the run's verdicts are read under."""
        return {snap["id"]: (snap["scorer"], snap["scorer_version"]) for snap in self.snapshots}

    @property
    def spec_info(self) -> dict[str, Any]:
        return decoded(self.spec, {})

    @property
    def backend_settings(self) -> dict[str, Any]:
        return decoded(self.backend, {})

    @property
    def context_info(self) -> dict[str, Any]:
        return decoded(self.context, {})

    @property
    def dimension_titles(self) -> dict[str, str]:
        return decoded(self.dimensions, {})


@_with_keys
@dataclass(frozen=True, eq=False)
class ItemRow(_Record):
    """One item of a run (``run_items``) with its answer (``responses``) and its score under the
    run's scorer version (``scores``); the answer and score fields are None where there is none."""

    run_id: int | None = None
    uid: str | None = None
    subtask: str | None = None
    item_id: str | None = None
    position: int | None = None
    item: str | None = None  # JSON: the bundle item (item_data)
    item_hash: str | None = None
    response_key: str | None = None
    status: str | None = None  # pending | done | skipped
    reason: str | None = None
    cached: int | None = None
    updated: float | None = None
    answer: str | None = None
    rendered_prompt: str | None = None
    finish_reason: str | None = None
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    gen_s: float | None = None
    ttft_s: float | None = None
    score_value: float | None = None
    score_label: str | None = None
    score_reason: str | None = None
    scored: bool = False

    @property
    def item_data(self) -> dict[str, Any]:
        return decoded(self.item, {})


def item_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The bundle item behind a row: an ``ItemRow``, or a row a reader rebuilt as a dict
    (judge/overlay.py, score/overrides.py) or built by hand."""
    if isinstance(row, ItemRow):
        return row.item_data
    return decoded(row.get("item"), {})


@_with_keys
@dataclass(frozen=True, eq=False)
class ComparisonRecord(_Record):
    """One row of ``comparisons`` (store._m2): the runs compared and what only running the
    models measured; every score is recomputed from the runs."""

    id: int | None = None
    created: float | None = None
    run_ids: str | None = None  # JSON: the runs, the reference first (run_id_list)
    reference_run: int | None = None
    forced: int | None = None
    comparability: str | None = None  # JSON: {"problems": [...], "rule": ...} (comparability_info)
    options: str | None = None  # JSON (options_info)
    measurements: str | None = None  # JSON: agreement and speed (measurements_info)

    @property
    def run_id_list(self) -> list[int]:
        return decoded(self.run_ids, [])

    @property
    def comparability_info(self) -> dict[str, Any]:
        return decoded(self.comparability, {})

    @property
    def options_info(self) -> dict[str, Any]:
        return decoded(self.options, {})

    @property
    def measurements_info(self) -> dict[str, Any]:
        return decoded(self.measurements, {})
