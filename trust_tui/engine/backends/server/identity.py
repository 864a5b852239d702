"""Who is answering: the server's kind, version, slots and a fingerprint of the model it serves.

Answers are cached under the model's identity, so a name is not enough: llama-cpp-python's
server and llama-server report whatever alias they were started with, and ``ollama pull`` puts
new weights under an old tag. The fingerprint is built from what the server says about the
model (Ollama's content digest; llama-server's /props and /v1/models meta; vLLM's root and
max_model_len; LM Studio's model list) plus an *answer probe*: a fixed prompt completed
greedily twice (text and top-5 candidates of the first tokens). Two different models almost never
complete it alike; a server that completes it differently twice is not deterministic, and then
only a content digest, the user's GGUF (--server-model-file) or --fingerprint identify it.

Versions and builds are recorded, not keyed: upgrading llama-server should not throw away a
cache, and a numerics change that alters answers shows up in the probe.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from trust_tui.engine.backends.server.client import Endpoint, Fatal, Rejected, Transient, one_line
from trust_tui.errors import BackendError

PROBE_PROMPT = "The three most surprising facts about the deep ocean are"
PROBE_TOKENS = 12
PROBE_POSITIONS = 4  # top-5 candidate sets kept for the first positions

# What each engine's OpenAI-compatible route does with the llama.cpp sampler fields, from its
# documentation (recorded with the run as "documented", since a server does not say so itself).
IGNORED_FIELDS = {
    "ollama": ("top_k", "min_p", "repeat_penalty"),
    "vllm": ("repeat_penalty",),  # vLLM reads repetition_penalty, which is sent too
}


@dataclass
class ServerIdentity:
    root: str
    kind: str  # llama-server | llama-cpp-python | vllm | ollama | lmstudio | openai-compatible
    version: str | None
    model: str | None  # the name requests carry
    models: tuple[str, ...]
    slots: int | None = None
    n_ctx: int | None = None
    declared: dict[str, Any] = field(default_factory=dict)  # keyed evidence
    recorded: dict[str, Any] = field(default_factory=dict)  # shown, not keyed (build, n_ctx)
    probe: dict[str, Any] | None = None
    deterministic: bool | None = None
    digest: str | None = None  # a content digest the server reports (Ollama)
    template_hash: str = "server"
    note: str = ""

    @property
    def established(self) -> bool:
        return bool(self.digest) or (self.probe is not None and bool(self.deterministic))

    def fingerprint(self) -> str | None:
        if self.digest:
            return self.digest.removeprefix("sha256:")[:32]
        if not self.established:
            return None
        evidence = {"kind": self.kind, "model": self.model, "declared": self.declared,
                    "probe": self.probe, "template": self.template_hash}
        return hashlib.sha256(json.dumps(evidence, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode()).hexdigest()[:32]

    def source(self) -> str:
        if self.digest:
            return f"{self.kind} content digest"
        if not self.established:
            return "none"
        said = ", ".join(sorted(self.declared)) or "model name"
        return f"{self.kind} {said} + answer probe"

    def describe(self) -> str:
        version = f" {self.version}" if self.version else ""
        slots = f" · {self.slots} slots" if self.slots else ""
        return f"{self.kind}{version} at {self.root} · model {self.model or '(default)'}{slots}"


def _try(endpoint: Endpoint, path: str, timeout: float, headers: dict, origin: bool = True,
         **kwargs) -> Any:
    """A route that may not exist on this kind of server: its JSON, or None."""
    try:
        return endpoint.get_json(path, timeout, headers, origin=origin, **kwargs)
    except (Transient, Rejected, Fatal):
        return None


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()[:16]


def _listed(data: Any) -> list[dict]:
    if isinstance(data, dict):
        entries = data.get("data") or data.get("models") or []
    else:
        entries = data if isinstance(data, list) else []
    return [e for e in entries if isinstance(e, dict)]


def _entry_id(entry: dict) -> str:
    return str(entry.get("id") or entry.get("name") or entry.get("model") or "")


def _same_name(a: str, b: str) -> bool:
    """Ollama's ``llama3`` is ``llama3:latest``."""
    return a == b or a.removesuffix(":latest") == b.removesuffix(":latest")


def identify(endpoint: Endpoint, model: str | None, headers: dict[str, str],
             read_timeout: float) -> ServerIdentity:
    """Ask the server what it is and what it serves; raises BackendError with one line when it
    cannot be used at all (unreachable, refuses the key, not JSON, an unknown model)."""
    small = min(read_timeout, 15.0)
    try:
        listing = endpoint.get_json("/models", read_timeout, headers)
    except Transient as exc:
        raise BackendError(str(exc)) from None
    except Fatal as exc:
        raise BackendError(str(exc)) from None
    except Rejected as exc:
        if exc.status != 404:
            raise BackendError(f"{endpoint.url('/models')}: {exc}") from None
        listing = None  # no model list: not every server has one
    entries = _listed(listing)
    ids = tuple(i for i in (_entry_id(e) for e in entries) if i)
    if model and ids and not any(_same_name(model, i) for i in ids):
        raise BackendError(f"{endpoint.root} has no model {model!r}; it serves: {', '.join(ids)}")
    chosen = model or (ids[0] if ids else None)
    entry = next((e for e in entries if _same_name(chosen or "", _entry_id(e))), {})
    owner = str(entry.get("owned_by") or "")
    ident = ServerIdentity(root=endpoint.root, kind="openai-compatible", version=None,
                           model=chosen, models=ids)

    if owner == "vllm":
        _vllm(ident, endpoint, entry, headers, small)
    elif not (_llama_server(ident, endpoint, entry, headers, small)
              or _ollama(ident, endpoint, headers, small)
              or _llama_cpp_python(ident, endpoint, headers, small)):
        _lmstudio(ident, endpoint, headers, small)

    first = probe(endpoint, ident.model, headers, read_timeout)
    if first is not None:
        second = probe(endpoint, ident.model, headers, read_timeout)
        ident.probe = first
        ident.deterministic = first == second
        if not ident.deterministic:
            ident.note = ("the server completed the same greedy prompt differently twice "
                          "(it may ignore temperature 0 or seed)")
    elif not ident.note:
        ident.note = "the server would not complete the identity probe"
    return ident


def _llama_server(ident, endpoint, entry, headers, timeout) -> bool:
    props = _try(endpoint, "/props", timeout, headers)
    if not isinstance(props, dict) or not ({"total_slots", "default_generation_settings",
                                            "build_info", "model_path"} & set(props)):
        return False
    ident.kind = "llama-server"
    ident.version = str(props.get("build_info") or "") or None
    ident.slots = int(props["total_slots"]) if isinstance(props.get("total_slots"), int) else None
    settings = props.get("default_generation_settings") or {}
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    ident.n_ctx = int(n_ctx) if isinstance(n_ctx, int) else None
    if props.get("model_path"):
        # The file name, not the folder: hosts that keep one file in different places agree.
        ident.declared["model_file"] = Path(str(props["model_path"])).name
        ident.recorded["model_path"] = str(props["model_path"])
    if props.get("chat_template"):
        ident.template_hash = _sha(str(props["chat_template"]))
        ident.declared["chat_template"] = ident.template_hash
    meta = entry.get("meta") if isinstance(entry, dict) else None
    if isinstance(meta, dict):
        ident.declared["meta"] = {k: meta[k] for k in ("n_params", "size", "n_vocab", "n_ctx_train",
                                                       "n_embd", "vocab_type") if k in meta}
    ident.recorded.update(n_ctx=ident.n_ctx, build=ident.version, total_slots=ident.slots)
    return True


def _vllm(ident, endpoint, entry, headers, timeout) -> None:
    ident.kind = "vllm"
    version = _try(endpoint, "/version", timeout, headers)
    ident.version = str(version.get("version")) if isinstance(version, dict) else None
    if entry.get("root"):
        ident.declared["root"] = str(entry["root"])
    if isinstance(entry.get("max_model_len"), int):
        ident.n_ctx = entry["max_model_len"]
        ident.declared["max_model_len"] = ident.n_ctx


def _ollama(ident, endpoint, headers, timeout) -> bool:
    version = _try(endpoint, "/api/version", timeout, headers)
    if not isinstance(version, dict) or "version" not in version:
        return False
    ident.kind, ident.version = "ollama", str(version["version"])
    tags = _try(endpoint, "/api/tags", timeout, headers)
    for entry in _listed(tags):
        if ident.model and _same_name(ident.model, _entry_id(entry)) and entry.get("digest"):
            ident.digest = str(entry["digest"])
            details = entry.get("details") or {}
            ident.recorded.update({k: details.get(k) for k in ("family", "parameter_size",
                                                               "quantization_level") if k in details})
    if ident.model:
        shown = _try(endpoint, "/api/show", timeout, headers, method="POST", body={"model": ident.model})
        if isinstance(shown, dict) and shown.get("template"):
            ident.template_hash = _sha(str(shown["template"]))
    return True


def _llama_cpp_python(ident, endpoint, headers, timeout) -> bool:
    spec = _try(endpoint, "/openapi.json", timeout, headers)
    info = spec.get("info") if isinstance(spec, dict) else None
    if not isinstance(info, dict) or "llama.cpp python" not in str(info.get("title", "")).lower():
        return False
    ident.kind = "llama-cpp-python"
    ident.version = str(info.get("version") or "") or None
    # One model call at a time, and by default a new request ends the stream in progress.
    ident.slots = 1
    return True


def _lmstudio(ident, endpoint, headers, timeout) -> bool:
    listing = _try(endpoint, "/api/v0/models", timeout, headers)
    entries = _listed(listing)
    entry = next((e for e in entries if _same_name(ident.model or "", _entry_id(e))), None)
    if entry is None or not ({"arch", "compatibility_type", "quantization"} & set(entry)):
        return False
    ident.kind = "lmstudio"
    ident.declared.update({k: entry[k] for k in ("arch", "quantization", "compatibility_type",
                                                 "publisher") if k in entry})
    if isinstance(entry.get("max_context_length"), int):
        ident.n_ctx = entry["max_context_length"]
    return True


def probe(endpoint: Endpoint, model: str | None, headers: dict[str, str],
          read_timeout: float) -> dict[str, Any] | None:
    """A fixed prompt completed greedily: its text and the top candidates of its first tokens."""
    body: dict[str, Any] = {"prompt": PROBE_PROMPT, "max_tokens": PROBE_TOKENS, "temperature": 0,
                            "seed": 0, "stream": False, "logprobs": 5}
    if model:
        body["model"] = model
    for attempt in range(2):
        try:
            data = endpoint.get_json("/completions", read_timeout, headers, method="POST", body=body)
        except Rejected as exc:
            if attempt == 0 and exc.status in (400, 422) and "logprobs" in body:
                body.pop("logprobs")
                continue
            return _chat_probe(endpoint, model, headers, read_timeout)
        except Transient as exc:
            raise BackendError(str(exc)) from None
        except Fatal as exc:
            raise BackendError(str(exc)) from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            return None
        result = {"text": str(choices[0].get("text") or ""), "top": _top_sets(choices[0].get("logprobs"))}
        if data.get("model") and data.get("model") != model:
            # llama-cpp-python answers with the file it loaded even when asked by alias
            result["answered_as"] = Path(str(data["model"])).name  # the name, wherever it is kept
        return result
    return None


def _chat_probe(endpoint, model, headers, read_timeout) -> dict[str, Any] | None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": PROBE_PROMPT}],
                            "max_tokens": PROBE_TOKENS, "temperature": 0, "seed": 0, "stream": False}
    if model:
        body["model"] = model
    try:
        data = endpoint.get_json("/chat/completions", read_timeout, headers, method="POST", body=body)
    except (Rejected, Transient, Fatal):
        return None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message") or {}
    return {"text": str(message.get("content") or ""), "top": []}


def _top_sets(logprobs: Any) -> list[list[str]]:
    """Top candidates per position, as sorted sets (their order within near-ties is noise)."""
    sets: list[list[str]] = []
    if isinstance(logprobs, dict) and isinstance(logprobs.get("top_logprobs"), list):
        for position in logprobs["top_logprobs"][:PROBE_POSITIONS]:
            if isinstance(position, dict):
                sets.append(sorted(position))
    elif isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
        for position in logprobs["content"][:PROBE_POSITIONS]:
            tops = position.get("top_logprobs") if isinstance(position, dict) else None
            if isinstance(tops, list):
                sets.append(sorted(str(t.get("token")) for t in tops if isinstance(t, dict)))
    return sets


def same_model(a: ServerIdentity, b: ServerIdentity) -> bool:
    return a.fingerprint() == b.fingerprint() and a.fingerprint() is not None


def disagreement(identities: list[ServerIdentity]) -> str:
    first = identities[0]
    for other in identities[1:]:
        if not same_model(first, other):
            return (f"the servers do not serve the same model: {first.root} ({one_line(first.describe(), 80)}) "
                    f"and {other.root} ({one_line(other.describe(), 80)}) differ; audit them separately")
    return ""


def served_by(backend: Any) -> str:
    """One line for a run's ``backend`` record (JSON text or dict): which server answered and
    how its model was identified; "" for runs that were not served."""
    if isinstance(backend, str):
        try:
            backend = json.loads(backend or "{}")
        except ValueError:
            return ""
    if not isinstance(backend, dict) or backend.get("kind") != "server":
        return ""
    kind = backend.get("server_kind") or "server"
    version = f" {backend['server_version']}" if backend.get("server_version") else ""
    servers = ", ".join(backend.get("servers") or [])
    return (f"answers from {kind}{version} at {servers} · model {backend.get('model') or '(default)'} · "
            f"identified by {backend.get('fingerprint_source') or 'nothing'} "
            f"(fingerprint {str(backend.get('fingerprint') or '')[:16]})")


def cache_key(ident: ServerIdentity, fingerprint: str | None,
              model_file: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(model part of the cache key, how it was made, a warning or "")."""
    if fingerprint:
        cleaned = one_line(fingerprint, 120).replace(" ", "_")
        return f"server:asserted:{cleaned}", "asserted with --fingerprint", ""
    if model_file:
        warning = ""
        said = ident.declared.get("model_file")
        if said and said != model_file.get("file_name"):
            warning = (f"the server says it loaded {said}, but --server-model-file "
                       f"names {model_file.get('file_name')}")
        return (f"server:{ident.kind}:gguf:{model_file['sha256']}",
                f"sha256 of --server-model-file {model_file.get('file_name')}", warning)
    fingerprint = ident.fingerprint()
    if fingerprint:
        return f"server:{ident.kind}:{fingerprint}", ident.source(), ""
    why = ident.note or "it does not say which model it serves"
    return (f"server:unidentified:{uuid.uuid4().hex[:16]}", "none (this run only)",
            f"cannot tell which model {ident.root} serves ({why}): its answers are kept for this "
            "run only and never reused; pass --server-model-file FILE.gguf or --fingerprint TEXT "
            "to cache them across runs")
