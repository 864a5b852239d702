"""The judge model: what every judge shares (``Judge``), and a GGUF loaded in-process and decoded
with the batched engine, every request under its own grammar (``batched.BatchedEngine`` builds
one sampler chain per sequence)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from trust_tui.engine.models import files as models
from trust_tui.engine.judge import formats
from trust_tui.engine.judge.cache import Verdict, VerdictKey
from trust_tui.engine.judge.formats import JudgeFormat, Prompt
from trust_tui.engine.judge.rubrics import Rubric
from trust_tui.engine.types import DoneEvent, ErrorEvent, GenSettings, Request
from trust_tui.errors import BackendError

# Greedy: a judge's verdict must not depend on a seed. Repetition penalty off, as for answers.
JUDGE_SETTINGS = GenSettings(max_tokens=64, temperature=0.0, seed=0)
# Sequences decoded together. At least 2: grammars are applied by the batched engine only.
MIN_PARALLEL = 2


@dataclass(frozen=True)
class JudgeRequest(Request):
    """A request that carries the GBNF grammar its answer must follow."""

    grammar: str = ""


@dataclass
class JudgeTask:
    """One answer for the judge to read under one rubric."""

    key: VerdictKey
    rubric: Rubric
    snapshot: Mapping[str, Any]
    prompt: Prompt
    grammar: str
    uid: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Judge:
    """What every judge shares, wherever it runs: its identity (the cache key's judge part), its
    format, the tasks it reads and the loop that turns its answers into verdicts. Subclasses say
    how a request is written for their backend and load it (``JudgeEngine`` in-process here,
    ``server.ServerJudge`` behind an OpenAI-compatible server)."""

    format_name: str
    format: JudgeFormat
    backend: Any = None
    load_seconds: float = 0.0
    constrained = True  # whether its output is held to the format's grammar
    warning = ""  # said once to the user: e.g. a server whose model could not be identified

    @property
    def judge_id(self) -> str:
        raise NotImplementedError

    @property
    def short_id(self) -> str:
        return short_id(self.judge_id)

    @property
    def display_name(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.format_name}, {self.short_id})"

    def task(self, rubric: Rubric, snapshot: Mapping[str, Any], prompt: str, answer: str,
             item: Mapping[str, Any], item_hash: str, response_key: str, uid: str = "",
             variant: str = "") -> JudgeTask | None:
        """The task for one answer, or None when this judge's format cannot read the rubric."""
        if not self.format.supports(rubric, snapshot):
            return None
        order = formats.reorder(rubric.label_names) if variant == "reask" else None
        task_text = str(snapshot.get("description") or snapshot.get("title") or "")
        key = VerdictKey(self.judge_id, self.format_name, rubric.id, rubric.version, variant,
                         item_hash, response_key)
        return JudgeTask(key, rubric, snapshot,
                         self.format.prompt(rubric, prompt, answer, item, task_text, order=order),
                         self.format.grammar(rubric, order=order), uid=uid)

    def load(self, tasks: list[JudgeTask], on_stage: Callable[[str], None] | None = None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def request(self, request_id: str, task: JudgeTask, settings: GenSettings) -> Request:
        raise NotImplementedError

    def verdict(self, task: JudgeTask, text: str, finish_reason: str) -> Verdict:
        if self.constrained:
            label, reason = self.format.parse(text, task.rubric, task.snapshot)
        else:
            label, reason = self.format.parse_free(text, task.rubric, task.snapshot)
        if label is None and finish_reason == "length":
            reason = f"the judge's token budget ended first ({reason})"
        return Verdict(task.key, label, reason, text)

    def judge(self, tasks: Iterable[JudgeTask], cancel: threading.Event | None = None
              ) -> Iterator[tuple[JudgeTask, Verdict | None, str]]:
        """(task, verdict, error) for each task as it finishes, in any order: a verdict (whose
        label is None when the output could not be read), or None and why it was not judged."""
        if self.backend is None:
            raise BackendError("the judge is not loaded")
        cancel = cancel or threading.Event()
        by_id: dict[str, JudgeTask] = {}
        settings = JUDGE_SETTINGS.merged({"max_tokens": self.format.max_tokens})

        def requests() -> Iterator[Request]:
            for task in tasks:
                request_id = f"j{len(by_id)}"
                by_id[request_id] = task
                yield self.request(request_id, task, settings)

        for event in self.backend.generate(requests(), cancel):
            task = by_id.get(event.request_id)
            if task is None:
                continue
            if isinstance(event, DoneEvent):
                yield task, self.verdict(task, event.response.text, event.response.finish_reason), ""
            elif isinstance(event, ErrorEvent):
                if not event.skip:
                    raise BackendError(f"judge: {event.message}")
                yield task, None, event.message


def short_id(judge_id: str) -> str:
    """12 characters that name a judge in "decided by" lines: the file's sha256 prefix; for a
    served judge (``server:<kind>:...:<fingerprint>``) its fingerprint's."""
    return judge_id.rsplit(":", 1)[-1][:12]


class JudgeEngine(Judge):
    """A judge file, its format, and (once ``load`` is called) the model loaded in-process."""

    def __init__(self, model: models.ModelFile, format_name: str | None = None,
                 threads: int | None = None, n_gpu_layers: int | None = None,
                 parallel: int | None = None):
        self.model = model
        info = model.info
        self.format_name = format_name or formats.detect(info.name, info.chat_template, model.path.name)
        self.format = formats.get(self.format_name)
        self.threads = threads
        self.n_gpu_layers = n_gpu_layers
        self.parallel = parallel
        self.backend = None
        self.load_seconds = 0.0

    @property
    def judge_id(self) -> str:
        return self.model.sha256

    @property
    def display_name(self) -> str:
        return self.model.display_name

    # ------------------------------------------------------------------ loading

    def load(self, tasks: list[JudgeTask], on_stage: Callable[[str], None] | None = None) -> None:
        """Load the judge with a context sized from the longest prompt among ``tasks``."""
        if self.backend is not None:
            return
        from trust_tui.engine.backends.llamacpp import backend as llamacpp, sizing
        from trust_tui.engine.models.hardware import memory_bytes

        counts = self.measure(tasks)
        budget = max(self.format.max_tokens, 1)
        train_ctx = self.model.info.context_length or sizing.DEFAULT_PLAIN_SEQ_CTX
        plan = sizing.plan_context([(n, budget) for n in counts], train_ctx=train_ctx)
        parallel = self.parallel
        if parallel is None:
            gpu = (self.n_gpu_layers if self.n_gpu_layers is not None else llamacpp.default_gpu_layers()) != 0
            parallel = sizing.auto_parallel(
                len(tasks), plan.seq_ctx, gpu=gpu,
                kv_bytes_per_cell=sizing.kv_bytes_per_token(self.model.info.metadata),
                memory_bytes=memory_bytes())
        parallel = max(MIN_PARALLEL, int(parallel))
        if on_stage is not None:
            on_stage(f"loading judge · {parallel} × {plan.seq_ctx} tokens")
        started = time.perf_counter()
        self.backend = llamacpp.load(self.model, n_threads=self.threads,
                                     n_gpu_layers=self.n_gpu_layers, parallel=parallel,
                                     context_plan=plan)
        self.load_seconds = time.perf_counter() - started

    def measure(self, tasks: list[JudgeTask]) -> list[int]:
        """Prompt tokens of each task from a vocabulary-only load of the judge file."""
        from trust_tui.engine.backends.llamacpp import loader
        from trust_tui.engine.backends.llamacpp.prompts import ChatPrompts

        if not tasks:
            return []
        llm = loader.load_vocab(self.model.path)
        try:
            prompts = ChatPrompts(llm, self.model.info.chat_template)
            return [len(prompts.tokenize(self._text(prompts, t.prompt))) for t in tasks]
        finally:
            loader.close(llm)

    @staticmethod
    def _text(prompts: Any, prompt: Prompt) -> str:
        if prompt.raw is not None:
            # A raw prompt is the model's own format; a file whose template adds BOS itself is
            # tokenized without one, so it is written out here.
            return prompts.raw_prefix() + prompt.raw
        return prompts.render(prompt.messages)

    def request(self, request_id: str, task: JudgeTask, settings: GenSettings) -> Request:
        text = self._text(self.backend._prompts, task.prompt)
        return JudgeRequest(request_id, text, tuple(task.prompt.messages), settings,
                            grammar=task.grammar)
