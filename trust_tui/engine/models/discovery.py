"""Where users keep GGUF models: the embedded default, folders they added, and the caches of
the Hugging Face hub, LM Studio, llama.cpp and Ollama (whose blobs are GGUF files named by digest),
and trust-tui's own models folder, where ``trust-tui quantize`` writes variants of the embedded
model (whose package folder is not the user's to write into).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from trust_tui import paths
from trust_tui.engine.models import files as models
from trust_tui.engine.models.ollama import Found, ollama_models, ollama_name, ollama_root  # noqa: F401  (re-exported)


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
