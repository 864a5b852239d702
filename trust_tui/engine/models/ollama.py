"""Ollama's model store: GGUF blobs named by digest, and the manifests that name them ``model:tag``.

Apart from discovery so that a model file can name itself (``ModelFile.display_name``) without the
discovery of every cache importing the model file's module back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Found:
    path: Path
    name: str  # what to show: the file name, or the Ollama model:tag
    source: str  # "embedded", "trust-tui", "folder", "huggingface", "lmstudio", "llama.cpp",
    #              "ollama", "path"


def ollama_root() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS", Path.home() / ".ollama" / "models"))


def ollama_name(blob: Path) -> str | None:
    """``model:tag`` for an Ollama blob (``…/blobs/sha256-<digest>``), from its manifests; else None."""
    if blob.parent.name != "blobs" or not blob.name.startswith("sha256-"):
        return None
    for found in ollama_models(blob.parent.parent):
        if found.path.name == blob.name:
            return found.name
    return None


def ollama_models(root: Path | None = None) -> list[Found]:
    root = root or ollama_root()
    manifests = root / "manifests"
    found = []
    if not manifests.is_dir():
        return found
    for manifest in sorted(manifests.rglob("*")):
        if not manifest.is_file():
            continue
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for layer in data.get("layers", []):
            if layer.get("mediaType") == "application/vnd.ollama.image.model":
                blob = root / "blobs" / layer.get("digest", "").replace(":", "-")
                if blob.is_file():
                    rel = manifest.relative_to(manifests).parts
                    name = f"{rel[-2]}:{rel[-1]}" if len(rel) >= 2 else manifest.name
                    found.append(Found(blob, name, "ollama"))
    return found
