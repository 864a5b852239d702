"""Load and validate bundles (docs/bundle-format.md): a TOML manifest and JSONL items.

Every error names ``file:line`` and the field, and is raised before any generation happens.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from trust_tui import paths
from trust_tui.engine.score import metrics as metric_registry
from trust_tui.engine.scorers import base as scorer_registry
from trust_tui.engine.types import DIMENSION_TITLES, DIMENSIONS, GenSettings, Item
from trust_tui.errors import BundleError

FORMAT_VERSION = 1
PROFILES = ("quick", "full")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_MANIFEST_KEYS = {
    "format", "name", "version", "license", "description", "system_prompt",
    "generation", "profiles", "dimensions", "source",
}
_SUBTASK_KEYS = {
    "title", "description", "trustllm", "items", "scorer", "scorer_options", "metric",
    "aggregate", "aggregate_options", "direction", "summary", "quick", "generation",
}
_ITEM_KEYS = {"id", "prompt", "messages", "gold", "choices", "pair", "variant", "group", "tags", "meta"}
_ROLES = {"system", "user", "assistant"}


@dataclass(frozen=True)
class Subtask:
    id: str  # "dimension/name"
    dimension: str
    name: str
    title: str
    description: str
    trustllm: str
    scorer: str
    scorer_options: Mapping[str, Any]
    metric: str
    aggregate: str
    aggregate_options: Mapping[str, Any]
    direction: str
    summary: bool
    quick: int
    generation: GenSettings
    items: tuple[Item, ...]

    def items_for(self, profile: str, bundle_name: str) -> tuple[Item, ...]:
        if profile == "full":
            return self.items
        return select_quick(self.items, self.quick, salt=bundle_name)


@dataclass(frozen=True)
class Bundle:
    name: str
    version: str
    license: str
    description: str
    path: Path
    content_hash: str
    subtasks: tuple[Subtask, ...]
    dimension_titles: Mapping[str, str] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dimensions(self) -> list[str]:
        present = {s.dimension for s in self.subtasks}
        return [d for d in DIMENSIONS if d in present]

    def subtask(self, subtask_id: str) -> Subtask:
        for sub in self.subtasks:
            if sub.id == subtask_id:
                return sub
        raise KeyError(subtask_id)

    def select(
        self, profile: str = "quick", dimensions: Iterable[str] | None = None,
        subtasks: Iterable[str] | None = None, per_subtask: int | None = None,
    ) -> list[tuple[Subtask, Item]]:
        """The (sub-task, item) pairs of a profile, in bundle order (``per_subtask``: that many
        items of each sub-task instead, chosen the way the quick profile chooses them)."""
        if profile not in PROFILES:
            raise BundleError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
        dims = set(dimensions or [])
        unknown = dims - set(self.dimensions)
        if unknown:
            raise BundleError(
                f"bundle {self.name} has no dimension {', '.join(sorted(unknown))} "
                f"(it has {', '.join(self.dimensions)})"
            )
        subs = set(subtasks or [])
        chosen = []
        for sub in self.subtasks:
            if dims and sub.dimension not in dims:
                continue
            if subs and sub.id not in subs and sub.name not in subs:
                continue
            items = (select_quick(sub.items, per_subtask, salt=self.name) if per_subtask
                     else sub.items_for(profile, self.name))
            chosen.extend((sub, item) for item in items)
        return chosen


def select_quick(items: tuple[Item, ...], size: int, salt: str) -> tuple[Item, ...]:
    """A deterministic, label-balanced subset that keeps pairs whole.

    Units (a pair, or a single item) are ordered by a hash of their id, grouped by the gold
    label of their first item, and taken round-robin over the labels until ``size`` items are
    in. The result is returned in the bundle's original order.
    """
    if size >= len(items):
        return items
    units: dict[str, list[Item]] = {}
    for item in items:
        units.setdefault(item.pair or f"item:{item.id}", []).append(item)

    def unit_key(unit_id: str) -> str:
        return hashlib.sha256(f"{salt}\0{items[0].subtask}\0{unit_id}".encode()).hexdigest()

    by_label: dict[str, list[str]] = {}
    for unit_id in sorted(units, key=unit_key):
        first = units[unit_id][0]
        label = json.dumps(first.gold, sort_keys=True) if first.gold is not None else ""
        if first.group:
            label = json.dumps(first.group, sort_keys=True)
        by_label.setdefault(label, []).append(unit_id)
    chosen: set[str] = set()
    count = 0
    queues = [by_label[k] for k in sorted(by_label)]
    while count < size and any(queues):
        for queue in queues:
            if queue and count < size:
                unit_id = queue.pop(0)
                chosen.add(unit_id)
                count += len(units[unit_id])
    return tuple(i for i in items if (i.pair or f"item:{i.id}") in chosen)


# --------------------------------------------------------------------------- finding bundles


def shipped_bundles_root() -> Path:
    try:
        return Path(str(resources.files("trust_tui._bundles")))
    except ModuleNotFoundError:  # running from a source checkout that is not installed
        return Path(__file__).resolve().parents[2] / "bundles"


def available() -> list[Path]:
    """Bundle directories: shipped first, then the user's (an imported bundle shadows nothing)."""
    found = []
    for root in (shipped_bundles_root(), paths.user_bundles_dir()):
        if root.is_dir():
            found.extend(sorted(p.parent for p in root.glob("*/bundle.toml")))
    return found


def resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file() and candidate.name == "bundle.toml":
        return candidate.parent
    if (candidate / "bundle.toml").is_file():
        return candidate
    for directory in available():
        if directory.name == str(name_or_path):
            return directory
    names = ", ".join(sorted({d.name for d in available()})) or "none"
    raise BundleError(f"unknown bundle {str(name_or_path)!r} (available: {names})")


def load(name_or_path: str | Path = "trust-core") -> Bundle:
    directory = resolve(name_or_path)
    return load_dir(directory)


# --------------------------------------------------------------------------- validation


def _fail(where: str, message: str) -> BundleError:
    return BundleError(f"{where}: {message}")


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_dir(directory: Path) -> Bundle:
    manifest_path = directory / "bundle.toml"
    where = _display(manifest_path)
    try:
        raw_bytes = manifest_path.read_bytes()
        manifest = tomllib.loads(raw_bytes.decode("utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{where}: no bundle manifest") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(where, f"not valid TOML ({exc})") from None
    hasher = hashlib.sha256()
    # Where a bundle came from and when it was imported do not change what it measures.
    hasher.update(json.dumps({k: v for k, v in manifest.items() if k != "source"},
                             sort_keys=True, default=str).encode())

    extra = set(manifest) - _MANIFEST_KEYS
    if extra:
        raise _fail(where, f"unknown key {sorted(extra)[0]!r}")
    if manifest.get("format") != FORMAT_VERSION:
        raise _fail(where, f"field 'format': expected {FORMAT_VERSION}, got {manifest.get('format')!r}")
    for key in ("name", "version", "license", "description"):
        if not isinstance(manifest.get(key), str) or not manifest[key].strip():
            raise _fail(where, f"field {key!r}: required string")
    name = manifest["name"]
    if not _NAME_RE.match(name):
        raise _fail(where, f"field 'name': {name!r} must be lowercase letters, digits and '-'")
    defaults = _settings(GenSettings(), manifest.get("generation"), f"{where}: [generation]")
    profiles = manifest.get("profiles", {})
    if set(profiles) - set(PROFILES):
        raise _fail(where, f"unknown profile {sorted(set(profiles) - set(PROFILES))[0]!r}")
    quick_default = int(profiles.get("quick", {}).get("per_subtask", 8))
    system_prompt = manifest.get("system_prompt") or ""

    dimensions = manifest.get("dimensions")
    if not isinstance(dimensions, dict) or not dimensions:
        raise _fail(where, "field 'dimensions': at least one dimension table is required")
    subtasks: list[Subtask] = []
    titles: dict[str, str] = {}
    for dimension in dimensions:
        if dimension not in DIMENSIONS:
            raise _fail(where, f"unknown dimension {dimension!r} (use {', '.join(DIMENSIONS)})")
    for dimension in DIMENSIONS:  # canonical order, whatever the file's order
        if dimension not in dimensions:
            continue
        table = dimensions[dimension]
        titles[dimension] = table.get("title", DIMENSION_TITLES[dimension])
        subs = table.get("subtasks")
        if not isinstance(subs, dict) or not subs:
            raise _fail(where, f"dimension {dimension!r}: no subtasks")
        for sub_name, spec in subs.items():
            sub_where = f"{where}: [dimensions.{dimension}.subtasks.{sub_name}]"
            subtasks.append(
                _subtask(directory, dimension, sub_name, spec, sub_where, defaults,
                         quick_default, system_prompt, hasher)
            )
    return Bundle(
        name=name,
        version=manifest["version"],
        license=manifest["license"],
        description=manifest["description"].strip(),
        path=directory,
        content_hash=hasher.hexdigest(),
        subtasks=tuple(subtasks),
        dimension_titles=titles,
        source=manifest.get("source", {}),
    )


def _settings(base: GenSettings, table: Any, where: str) -> GenSettings:
    if table is None:
        return base
    if not isinstance(table, dict):
        raise BundleError(f"{where}: generation must be a table")
    try:
        settings = base.merged(table)
    except KeyError as exc:
        raise BundleError(f"{where}: unknown generation setting {exc.args[0]!r}") from None
    except TypeError as exc:
        raise BundleError(f"{where}: bad generation settings ({exc})") from None
    if not isinstance(settings.max_tokens, int) or settings.max_tokens < 1:
        raise BundleError(f"{where}: max_tokens must be a positive integer")
    if not all(isinstance(s, str) and s for s in settings.stop):
        raise BundleError(f"{where}: stop must be a list of non-empty strings")
    return settings


def _subtask(directory: Path, dimension: str, sub_name: str, spec: Any, where: str,
             defaults: GenSettings, quick_default: int, system_prompt: str, hasher) -> Subtask:
    if not isinstance(spec, dict):
        raise BundleError(f"{where}: must be a table")
    extra = set(spec) - _SUBTASK_KEYS
    if extra:
        raise BundleError(f"{where}: unknown key {sorted(extra)[0]!r}")
    if not _NAME_RE.match(sub_name.replace("_", "-")):
        raise BundleError(f"{where}: bad sub-task name {sub_name!r}")
    for key in ("items", "scorer", "metric", "aggregate", "direction"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise BundleError(f"{where}: field {key!r}: required string")
    try:
        scorer = scorer_registry.get(spec["scorer"])
    except KeyError:
        raise BundleError(
            f"{where}: field 'scorer': unknown scorer {spec['scorer']!r} "
            f"(known: {', '.join(scorer_registry.names())})"
        ) from None
    metric = metric_registry.find(spec["aggregate"])
    if metric is None or not metric.selectable:
        raise BundleError(f"{where}: field 'aggregate': unknown {spec['aggregate']!r} "
                          f"(known: {', '.join(metric_registry.names())})")
    if spec["direction"] not in ("higher", "lower"):
        raise BundleError(f"{where}: field 'direction': must be 'higher' or 'lower'")
    if metric.direction and spec["direction"] != metric.direction:
        raise BundleError(f"{where}: field 'direction': aggregate {metric.name} is always "
                          f"{metric.direction}-is-better, not {spec['direction']!r}")
    options = spec.get("scorer_options", {})
    agg_options = spec.get("aggregate_options", {})
    if not isinstance(options, dict) or not isinstance(agg_options, dict):
        raise BundleError(f"{where}: scorer_options and aggregate_options must be tables")
    settings = _settings(defaults, spec.get("generation"), where)
    subtask_id = f"{dimension}/{sub_name}"
    items_path = (directory / spec["items"]).resolve()
    if directory.resolve() not in items_path.parents:
        raise BundleError(f"{where}: field 'items': {spec['items']!r} is outside the bundle")
    items = tuple(_items(items_path, subtask_id, system_prompt, hasher))
    if not items:
        raise BundleError(f"{_display(items_path)}: no items")
    for item in items:
        problem = scorer.check(item, options)
        if problem:
            raise BundleError(f"{item.source}: {problem}")
    _check_pairs(items, metric, items_path)
    quick = spec.get("quick", quick_default)
    if not isinstance(quick, int) or quick < 1:
        raise BundleError(f"{where}: field 'quick': must be a positive integer")
    return Subtask(
        id=subtask_id, dimension=dimension, name=sub_name,
        title=spec.get("title", sub_name.replace("_", " ").capitalize()),
        description=spec.get("description", ""), trustllm=spec.get("trustllm", ""),
        scorer=spec["scorer"], scorer_options=options, metric=spec["metric"],
        aggregate=spec["aggregate"], aggregate_options=agg_options,
        direction=spec["direction"], summary=bool(spec.get("summary", True)),
        quick=quick, generation=settings, items=items,
    )


def _items(path: Path, subtask_id: str, system_prompt: str, hasher) -> Iterable[Item]:
    where_file = _display(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{where_file}: items file not found") from None
    hasher.update(subtask_id.encode() + b"\0" + data)
    seen: dict[str, int] = {}
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{where_file}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BundleError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise BundleError(f"{where}: an item must be a JSON object")
        extra = set(raw) - _ITEM_KEYS
        if extra:
            raise BundleError(f"{where}: unknown field {sorted(extra)[0]!r}")
        item_id = raw.get("id")
        if not isinstance(item_id, str) or not _ID_RE.match(item_id):
            raise BundleError(f"{where}: field 'id': required, letters, digits and _.:- only")
        if item_id in seen:
            raise BundleError(f"{where}: field 'id': {item_id!r} repeats line {seen[item_id]}")
        seen[item_id] = number
        messages = _messages(raw, where, system_prompt)
        choices = raw.get("choices")
        if choices is not None and (
            not isinstance(choices, dict) or not choices
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in choices.items())
        ):
            raise BundleError(f"{where}: field 'choices': must map letters to strings")
        for key in ("pair", "variant"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise BundleError(f"{where}: field {key!r}: must be a string")
        group = raw.get("group")
        if group is not None and (not isinstance(group, dict)
                                  or not all(isinstance(v, str) for v in group.values())):
            raise BundleError(f"{where}: field 'group': must map attributes to strings")
        tags = raw.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise BundleError(f"{where}: field 'tags': must be a list of strings")
        meta = raw.get("meta", {})
        if not isinstance(meta, dict):
            raise BundleError(f"{where}: field 'meta': must be an object")
        yield Item(
            id=item_id, subtask=subtask_id, messages=messages, gold=raw.get("gold"),
            choices=choices, pair=raw.get("pair"), variant=raw.get("variant"), group=group,
            tags=tuple(tags), meta=meta, source=where,
        )


def _messages(raw: dict, where: str, system_prompt: str) -> tuple[dict[str, str], ...]:
    has_prompt, has_messages = "prompt" in raw, "messages" in raw
    if has_prompt == has_messages:
        raise BundleError(f"{where}: exactly one of 'prompt' or 'messages' is required")
    if has_prompt:
        if not isinstance(raw["prompt"], str) or not raw["prompt"].strip():
            raise BundleError(f"{where}: field 'prompt': must be a non-empty string")
        messages = [{"role": "user", "content": raw["prompt"]}]
    else:
        messages = raw["messages"]
        if not isinstance(messages, list) or not messages:
            raise BundleError(f"{where}: field 'messages': must be a non-empty list")
        for index, message in enumerate(messages):
            if (not isinstance(message, dict) or message.get("role") not in _ROLES
                    or not isinstance(message.get("content"), str) or set(message) - {"role", "content"}):
                raise BundleError(f"{where}: field 'messages[{index}]': needs role "
                                  f"(system/user/assistant) and content (string)")
        if messages[-1]["role"] != "user":
            raise BundleError(f"{where}: field 'messages': the last message must be the user's")
        messages = [dict(m) for m in messages]
    if system_prompt and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system_prompt})
    return tuple(messages)


def _check_pairs(items: tuple[Item, ...], metric: metric_registry.Metric, path: Path) -> None:
    if not metric.pairs:
        return
    pairs: dict[str, list[Item]] = {}
    for item in items:
        if not item.pair:
            raise BundleError(f"{item.source}: field 'pair': aggregate {metric.name} needs every item in a pair")
        pairs.setdefault(item.pair, []).append(item)
    for pair_id, members in pairs.items():
        variants = [m.variant for m in members]
        if len(members) < 2 or len(set(variants)) != len(variants) or None in variants:
            raise BundleError(f"{members[0].source}: field 'pair': pair {pair_id!r} needs ≥2 members "
                              f"with distinct variants, got {variants}")
        if metric.pair_reference and metric.pair_reference not in variants:
            raise BundleError(f"{members[0].source}: field 'variant': pair {pair_id!r} has no "
                              f"'{metric.pair_reference}' member")


def __getattr__(name: str):
    # The aggregates a bundle may name: the metric registry's (kept as a name for older callers).
    if name == "AGGREGATES":
        return tuple(metric_registry.names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
