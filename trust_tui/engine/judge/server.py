"""A judge behind an OpenAI-compatible server (llama-server, llama_cpp.server, vLLM, Ollama).

The requests go through the same server backend as a served run (``backends.openai_compat``:
its pool, retries, slot counts and the handling of servers that cut concurrent streams), so the
judge reads as many answers at once as the server takes.

Its verdicts are cached like a local judge's, under the served model's identity
(``backends.server.identity.cache_key``): the sha256 of the GGUF the user says the server loaded
(``--judge-server-model-file``), a fingerprint the user asserts (``--judge-fingerprint``), or the
fingerprint the server's own description and a greedy probe establish. A server whose model
cannot be told gets a key of its own for this pass only: its verdicts are shown but never
reused, rather than cached under a guess.

llama-server and llama_cpp.server read a GBNF ``grammar`` field, so the answer is held to the
format there as it is in-process; other servers answer freely, and the label is parsed from the
text (``JudgeFormat.parse_free``), an answer without one counted as unreadable.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable, Iterator

from trust_tui.engine.backends.openai_compat import OpenAICompatBackend
from trust_tui.engine.backends.server import client
from trust_tui.engine.judge import formats
from trust_tui.engine.judge.cache import Verdict
from trust_tui.engine.judge.engine import Judge, JudgeRequest, JudgeTask
from trust_tui.engine.models import files as models
from trust_tui.engine.types import GenSettings, Request
from trust_tui.errors import BackendError, TrustError

# Servers whose chat route applies a GBNF ``grammar`` field (llama.cpp's own server and
# llama-cpp-python's). Others may ignore an unknown field silently, so it is not sent to them.
GRAMMAR_KINDS = ("llama-server", "llama-cpp-python")


class GrammarBackend(OpenAICompatBackend):
    """The server backend, with each judge request's grammar in the body where it is read."""

    send_grammar = False

    def body(self, request: Request, endpoint: Any) -> dict[str, Any]:
        body = super().body(request, endpoint)
        grammar = getattr(request, "grammar", "")
        if grammar and self.send_grammar:
            body["grammar"] = grammar
        return body


class ServerJudge(Judge):
    """A judge served over HTTP: identified when it is opened (the server is asked what it
    serves), nothing to load."""

    def __init__(self, url: str, *, model: str | None = None,
                 model_file: models.ModelFile | None = None, fingerprint: str | None = None,
                 format_name: str | None = None, api_key_env: str | None = None,
                 parallel: int | None = None, read_timeout: float | None = None):
        api_key = None
        if api_key_env:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                raise BackendError(f"--judge-api-key-env {api_key_env}: that environment variable is not set")
        self.model_file = model_file
        self.backend = GrammarBackend(
            url, model=model, api_key=api_key, concurrency=parallel, fingerprint=fingerprint,
            model_file=model_file.record() if model_file is not None else None,
            api_key_env=api_key_env, read_timeout=read_timeout or client.DEFAULT_READ_TIMEOUT)
        self.identity = self.backend.identities[0]
        self.model_id = self.backend.info.model_id
        self.constrained = self.identity.kind in GRAMMAR_KINDS
        self.backend.send_grammar = self.constrained
        self.warning = self.backend.warning
        self.load_seconds = 0.0
        if format_name:
            self.format_name, self.format_source = format_name, "--judge-format"
        else:
            self.format_name, self.format_source = self._detect()
        self.format = formats.get(self.format_name)
        if self.format.raw:
            self.close()
            raise TrustError(f"the {self.format_name} format writes the model's own prompt text, which a "
                             "server's chat route cannot carry: judge with the GGUF file (--judge FILE)")

    def _detect(self) -> tuple[str, str]:
        """The format from the GGUF's metadata when the user named the file, else from what the
        server says about its model (its name, file name and chat template)."""
        if self.model_file is not None:
            info = self.model_file.info
            return (formats.detect(info.name, info.chat_template, self.model_file.path.name),
                    "the GGUF metadata of --judge-server-model-file")
        ident = self.identity
        names = " ".join(str(n) for n in (ident.model, ident.declared.get("model_file"),
                                          ident.recorded.get("model_path")) if n)
        template = self._served_template()
        found = formats.detect(names, template, "")
        said = "name and chat template" if template else "name"
        return found, f"the served model's {said}"

    def _served_template(self) -> str | None:
        """The chat template the server reports (llama-server's /props, Ollama's /api/show)."""
        endpoint = self.backend.pool.endpoints[0]
        headers = self.backend.headers()
        data, field = None, ""
        try:
            if self.identity.kind == "llama-server":
                data, field = endpoint.get_json("/props", 15.0, headers, origin=True), "chat_template"
            elif self.identity.kind == "ollama" and self.identity.model:
                data, field = endpoint.get_json("/api/show", 15.0, headers, origin=True, method="POST",
                                                body={"model": self.identity.model}), "template"
        except (client.Transient, client.Rejected, client.Fatal):
            return None
        return str(data.get(field) or "") or None if isinstance(data, dict) else None

    @property
    def judge_id(self) -> str:
        return self.model_id

    @property
    def display_name(self) -> str:
        if self.model_file is not None:
            return self.model_file.display_name
        return str(self.identity.model or self.identity.root)

    @property
    def label(self) -> str:
        grammar = "grammar" if self.constrained else "no grammar: labels parsed from text"
        return (f"{self.display_name} ({self.format_name}, {self.short_id}) via {self.identity.kind} "
                f"at {self.identity.root} · {grammar}")

    @property
    def identified_by(self) -> str:
        return self.backend.identity_source

    def load(self, tasks: list[JudgeTask], on_stage: Callable[[str], None] | None = None) -> None:
        if on_stage is not None:
            on_stage(f"judging through {self.identity.kind} at {self.identity.root} · "
                     f"{self.backend.pool.capacity} at a time")

    def request(self, request_id: str, task: JudgeTask, settings: GenSettings) -> Request:
        messages = tuple(task.prompt.messages)
        return JudgeRequest(request_id, self.backend.render(messages), messages, settings,
                            grammar=task.grammar)

    def judge(self, tasks: Iterable[JudgeTask], cancel: threading.Event | None = None
              ) -> Iterator[tuple[JudgeTask, Verdict | None, str]]:
        """As ``Judge.judge``; a server that refuses the grammar field is asked again without it,
        and its answers are read as free text from then on."""
        again: list[JudgeTask] = []
        for task, verdict, error in super().judge(tasks, cancel):
            # Requests in flight when the first refusal came back were sent with the grammar too.
            if verdict is None and "grammar" in error.lower() and (self.backend.send_grammar or again):
                self.backend.send_grammar = self.constrained = False
                again.append(task)
                continue
            yield task, verdict, error
        if again:
            yield from super().judge(again, cancel)
