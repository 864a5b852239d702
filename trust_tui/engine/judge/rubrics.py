"""Judge rubrics: versioned TOML data, one per sub-task family (docs/judge.md).

A rubric names the sub-tasks it reads (by rule scorer or sub-task id), the rule verdicts it
decides (rules keep the rest), its labels with the score each label gives, and the instructions
a generic instruct judge reads. The shipped rubrics live in ``rubrics/``; a bundle may bring its
own in a ``judge/`` folder, and those win over shipped ones with the same id.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from trust_tui.errors import TrustError

RUBRIC_FORMAT = 1
_LABEL = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_PLACEHOLDER = re.compile(r"\{(prompt|answer|task|labels|(?:gold|meta)\.[A-Za-z0-9_]+)\}")
# A judge reads at most this much of an answer: longer answers are cut (and the cut is marked).
MAX_ANSWER_CHARS = 2400


class RubricError(TrustError):
    """A rubric file that cannot be used (the message names the file and the field)."""


@dataclass(frozen=True)
class Label:
    name: str
    meaning: str
    value: float


@dataclass(frozen=True)
class Rubric:
    id: str
    version: int
    title: str
    family: str
    labels: tuple[Label, ...]
    instructions: str
    scorers: tuple[str, ...] = ()
    subtasks: tuple[str, ...] = ()
    decides: tuple[str, ...] = ("uncertain",)
    flip: Mapping[str, str] = field(default_factory=dict)
    oriented: bool = False
    source: str = ""

    @property
    def key(self) -> str:
        """What a verdict records as "who decided", beside the judge's sha256."""
        return f"{self.id}@{self.version}"

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def label(self, name: str) -> Label | None:
        return next((label for label in self.labels if label.name == name), None)

    def reads(self, subtask_id: str, scorer: str) -> bool:
        if any(fnmatch.fnmatchcase(subtask_id, pattern) for pattern in self.subtasks):
            return True
        return any(pattern == "*" or pattern == scorer for pattern in self.scorers)

    def decides_verdict(self, label: str | None, value: float | None) -> bool:
        """Whether the rules' verdict (its label and value) is one this rubric decides."""
        if label == "uncertain" and value is None:
            return "uncertain" in self.decides
        if value is None:
            return "unparseable" in self.decides
        return label in self.decides

    def value(self, label: str, snapshot: Mapping[str, Any]) -> float | None:
        """The score a judge label gives in a sub-task (its options and direction)."""
        found = self.label(label)
        if found is None:
            return None
        value = found.value
        options = snapshot.get("scorer_options") or {}
        if self.flip and options.get(self.flip.get("option")) == self.flip.get("equals"):
            value = 1.0 - value
        if self.oriented and snapshot.get("direction") == "lower":
            value = 1.0 - value
        return value

    def render(self, prompt: str, answer: str, item: Mapping[str, Any], task: str = "",
               order: Iterable[str] | None = None) -> str:
        """The instructions with the item filled in; ``order`` lists the labels in another
        order (the self-consistency re-ask)."""
        names = list(order) if order is not None else list(self.label_names)
        lines = "\n".join(f"- {name}: {self.label(name).meaning}" for name in names)
        if len(answer) > MAX_ANSWER_CHARS:
            answer = answer[:MAX_ANSWER_CHARS] + " [...]"
        values = {"prompt": prompt.strip(), "answer": answer.strip() or "(empty)",
                  "task": task.strip() or "(not given)", "labels": lines}

        def fill(match: re.Match) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            where, _, key = name.partition(".")
            source = item.get(where) if isinstance(item.get(where), Mapping) else {}
            found = source.get(key)
            return "(not given)" if found in (None, "") else str(found)

        return _PLACEHOLDER.sub(fill, self.instructions).strip()


def parse(text: str, source: str) -> Rubric:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{source}: not valid TOML ({exc})") from None

    def need(key: str, kind: type) -> Any:
        if key not in data:
            raise RubricError(f"{source}: missing field '{key}'")
        if not isinstance(data[key], kind) or isinstance(data[key], bool) and kind is not bool:
            raise RubricError(f"{source}: field '{key}' must be {kind.__name__}")
        return data[key]

    if data.get("format") != RUBRIC_FORMAT:
        raise RubricError(f"{source}: field 'format' must be {RUBRIC_FORMAT}")
    rubric_id = need("id", str)
    if not _LABEL.match(rubric_id):
        raise RubricError(f"{source}: field 'id' must be lowercase letters, digits and '-'")
    version = need("version", int)
    if version < 1:
        raise RubricError(f"{source}: field 'version' must be at least 1")
    raw_labels = need("labels", dict)
    labels = []
    for name, spec in raw_labels.items():
        if not _LABEL.match(name):
            raise RubricError(f"{source}: label {name!r} must be lowercase letters, digits and '-'")
        if not isinstance(spec, dict) or not isinstance(spec.get("meaning"), str):
            raise RubricError(f"{source}: labels.{name} needs a 'meaning' string")
        value = spec.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise RubricError(f"{source}: labels.{name}.value must be a number in [0, 1]")
        labels.append(Label(name, spec["meaning"].strip(), float(value)))
    if len(labels) < 2:
        raise RubricError(f"{source}: a rubric needs at least two labels")
    instructions = need("instructions", str)
    for bad in set(re.findall(r"\{([^{}]*)\}", instructions)) - {
            m.group(1) for m in _PLACEHOLDER.finditer(instructions)}:
        raise RubricError(f"{source}: instructions: unknown placeholder {{{bad}}}")
    scorers = tuple(data.get("scorers") or ())
    subtasks = tuple(data.get("subtasks") or ())
    if not scorers and not subtasks:
        raise RubricError(f"{source}: name the sub-tasks it reads in 'scorers' or 'subtasks'")
    flip = data.get("flip") or {}
    if flip and (set(flip) != {"option", "equals"}):
        raise RubricError(f"{source}: field 'flip' needs exactly 'option' and 'equals'")
    return Rubric(
        id=rubric_id, version=version, title=str(data.get("title", rubric_id)),
        family=str(data.get("family", rubric_id)), labels=tuple(labels),
        instructions=instructions, scorers=scorers, subtasks=subtasks,
        decides=tuple(data.get("decides") or ("uncertain",)), flip=dict(flip),
        oriented=bool(data.get("oriented", False)), source=source,
    )


def shipped() -> list[Rubric]:
    folder = resources.files("trust_tui.engine.judge").joinpath("rubrics")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            found.append(parse(entry.read_text(encoding="utf-8"), f"rubrics/{entry.name}"))
    return found


def load_all(extra: Path | None = None) -> list[Rubric]:
    """The shipped rubrics, with those of ``extra`` (a bundle's ``judge/`` folder) replacing
    shipped ones of the same id. The generic rubric stays last: it is the fallback."""
    by_id = {rubric.id: rubric for rubric in shipped()}
    if extra is not None and extra.is_dir():
        for path in sorted(extra.glob("*.toml")):
            rubric = parse(path.read_text(encoding="utf-8"), str(path))
            by_id[rubric.id] = rubric
    ordered = [r for r in by_id.values() if r.id != "generic"]
    return ordered + ([by_id["generic"]] if "generic" in by_id else [])


def for_subtask(rubrics: list[Rubric], subtask_id: str, scorer: str) -> list[Rubric]:
    """The rubrics that read a sub-task, the most specific first (sub-task id, then scorer,
    then the catch-all)."""
    def rank(rubric: Rubric) -> int:
        if any(fnmatch.fnmatchcase(subtask_id, p) for p in rubric.subtasks):
            return 0
        return 1 if scorer in rubric.scorers else 2

    return sorted((r for r in rubrics if r.reads(subtask_id, scorer)), key=rank)


def choose(rubrics: list[Rubric], subtask_id: str, scorer: str, label: str | None,
           value: float | None) -> Rubric | None:
    """The rubric that decides this rule verdict, or None when the rules keep it."""
    for rubric in for_subtask(rubrics, subtask_id, scorer):
        if rubric.decides_verdict(label, value):
            return rubric
    return None
