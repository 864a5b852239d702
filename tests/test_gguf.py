"""GGUF header reading and the one-line errors for bad model files."""

import shutil

import pytest

from trust_tui.engine.models import gguf, files as models
from trust_tui.errors import ModelError


def test_reads_the_embedded_model_header(smol_path):
    info = gguf.read_info(smol_path)
    assert info.architecture == "llama"
    assert info.file_type == "Q4_1"
    assert 130e6 < info.parameters < 140e6
    assert info.context_length == 8192
    assert info.has_chat_template
    assert "q4_1" in info.tensor_mix()


@pytest.mark.parametrize("content,message", [
    (b"hello world\n", "not a GGUF model file"),
    (b"", "not a GGUF model file"),
    (b"GGUF\x03\x00\x00\x00" + b"\x01" * 5, "truncated GGUF header"),
])
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        gguf.read_info(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        gguf.read_info(tmp_path / "nope.gguf")
    with pytest.raises(ModelError, match="is a directory"):
        gguf.read_info(tmp_path)


def test_truncated_model_is_caught_before_loading(tmp_path, smol_path):
    cut = tmp_path / "cut.gguf"
    with smol_path.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(smol_path.stat().st_size // 2))
    with pytest.raises(ModelError, match="truncated GGUF file"):
        gguf.read_info(cut)


def test_fingerprint_is_remembered_by_path_size_mtime(tmp_path, store, smol_path, monkeypatch):
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(smol_path, copy)
    first = models.identify(copy, store)
    calls = []
    monkeypatch.setattr(models, "sha256_file", lambda *a, **k: calls.append(a) or "x")
    again = models.identify(copy, store)
    assert again.sha256 == first.sha256 and not calls  # not hashed twice
    copy.write_bytes(copy.read_bytes())  # new mtime
    assert models.identify(copy, store).sha256 == "x"


def test_find_gguf(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "m.gguf").write_bytes(b"GGUF")
    (tmp_path / "a" / "notes.txt").write_text("x")
    assert [p.name for p in models.find_gguf([tmp_path])] == ["m.gguf"]
