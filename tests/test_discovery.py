"""Discovery: trust-tui's own models folder, and Ollama blobs shown by their model:tag."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tui.conftest import write_fake_gguf
from trust_tui import paths
from trust_tui.engine.models import discovery, files as models


def _ollama(root: Path) -> Path:
    blob = write_fake_gguf(root / "blobs" / "sha256-77aa", name="olla")
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / "smol" / "135m"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:77aa"}]}))
    return blob


def test_variants_written_by_quantize_are_listed(trust_home, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    made = write_fake_gguf(paths.home() / "models" / "SmolLM2.Q2_K.gguf", name="q2")
    found = {entry.path: entry for entry in discovery.discover()}
    assert found[made].source == "trust-tui"
    assert found[made].name == "SmolLM2.Q2_K.gguf"


def test_an_ollama_blob_is_named_by_its_manifest(tmp_path, monkeypatch, store):
    root = tmp_path / "ollama"
    blob = _ollama(root)
    monkeypatch.setenv("OLLAMA_MODELS", str(root))
    assert discovery.ollama_name(blob) == "smol:135m"
    model = models.identify(blob, store)
    assert model.record()["file_name"] == "smol:135m"


def test_a_plain_file_keeps_its_name(tmp_path, store):
    path = write_fake_gguf(tmp_path / "blobs" / "sha256-notinamanifest", name="x")
    assert discovery.ollama_name(path) is None
    assert models.identify(path, store).record()["file_name"] == "sha256-notinamanifest"
