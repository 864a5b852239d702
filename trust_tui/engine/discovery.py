"""Where users keep GGUF models: the embedded default, folders they added, and the caches of
the Hugging Face hub, LM Studio, llama.cpp and Ollama (whose blobs are GGUF files named by digest),
and trust-tui's own models folder, where ``trust-tui quantize`` writes variants of the embedded
model (whose package folder is not the user's to write into).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from trust_tui import paths
from trust_tui.engine import models


@dataclass(frozen=True)
class Found:
    path: Path
    name: str  # what to show: the file name, or the Ollama model:tag
    source: str  # "embedded", "trust-tui", "folder", "huggingface", "lmstudio", "llama.cpp",
    #              "ollama", "path"


def config_file() -> Path:
    return paths.config_dir() / "config.json"


def load_config() -> dict:
    try:
        return json.loads(config_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_config(config: dict) -> None:
    target = config_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2), encoding="utf-8")
    tmp.replace(target)


def user_folders() -> list[Path]:
    return [Path(p).expanduser() for p in load_config().get("model_folders", [])]


def add_folder(folder: Path) -> None:
    config = load_config()
    folders = config.setdefault("model_folders", [])
    text = str(Path(folder).expanduser().resolve())
    if text not in folders:
        folders.append(text)
        save_config(config)


def known_caches() -> list[tuple[str, Path]]:
    home = Path.home()
    hf_home = Path(os.environ.get("HF_HOME", home / ".cache" / "huggingface"))
    hub = Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub"))
    llama_cache = Path(os.environ.get("LLAMA_CACHE", home / ".cache" / "llama.cpp"))
    return [
        ("huggingface", hub),
        ("lmstudio", home / ".lmstudio" / "models"),
        ("lmstudio", home / ".cache" / "lm-studio" / "models"),
        ("llama.cpp", llama_cache),
    ]


def own_models_folder() -> Path:
    return paths.home() / "models"


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


def discover(directories: list[Path] | None = None) -> list[Found]:
    """With directories: GGUF files under them. Without: every known place."""
    if directories:
        return [Found(p, p.name, "path") for p in models.find_gguf(directories)]
    found: list[Found] = []
    default = models.default_model_path()
    if default:
        found.append(Found(default, default.name, "embedded"))
    own = own_models_folder()
    if own.is_dir():
        found.extend(Found(p, p.name, "trust-tui") for p in models.find_gguf([own]))
    for folder in user_folders():
        found.extend(Found(p, p.name, "folder") for p in models.find_gguf([folder]))
    for source, folder in known_caches():
        if folder.is_dir():
            found.extend(Found(p, p.name, source) for p in models.find_gguf([folder]))
    found.extend(ollama_models())
    unique, seen = [], set()
    for entry in found:
        key = entry.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique
