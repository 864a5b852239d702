"""Provenance read from a GGUF the test writes with the quantizer's metadata keys."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from trust_tui.engine.models import gguf, provenance


def _s(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, kv: list[tuple[str, int, bytes]]) -> Path:
    """A valid GGUF header (one Q4_0 tensor, sparse data) with the given key-values."""
    base = [("general.architecture", 8, _s("llama")), ("general.name", 8, _s("demo")),
            ("general.file_type", 4, struct.pack("<I", 15)), ("llama.context_length", 4, struct.pack("<I", 2048))]
    kv = base + kv
    header = b"GGUF" + struct.pack("<I", 3) + struct.pack("<Q", 1) + struct.pack("<Q", len(kv))
    for key, type_id, value in kv:
        header += _s(key) + struct.pack("<I", type_id) + value
    elements = 1024 * 1024
    header += _s("token_embd.weight") + struct.pack("<I", 1) + struct.pack("<Q", elements)
    header += struct.pack("<I", 2) + struct.pack("<Q", 0)
    data_start = (len(header) + 31) // 32 * 32
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(data_start + elements // 32 * 18)
    return path


def test_quantizer_metadata_is_read_from_the_file(tmp_path):
    template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    path = write_gguf(tmp_path / "m.gguf", [
        ("general.quantized_by", 8, _s("bartowski")),
        ("general.source.url", 8, _s("https://example.org/demo")),
        ("quantize.imatrix.file", 8, _s("/models/demo.imatrix")),
        ("quantize.imatrix.dataset", 8, _s("calibration_datav3.txt")),
        ("quantize.imatrix.entries_count", 5, struct.pack("<i", 196)),
        ("quantize.imatrix.chunks_count", 5, struct.pack("<i", 125)),
        ("tokenizer.chat_template", 8, _s(template)),
    ])
    prov = provenance.of_info(gguf.read_info(path))
    assert dict(prov.fields) == {"quantized by": "bartowski", "source": "https://example.org/demo",
                                 "imatrix file": "/models/demo.imatrix", "imatrix dataset": "calibration_datav3.txt",
                                 "imatrix entries": "196", "imatrix chunks": "125"}
    assert prov.imatrix and prov.file_type == "Q4_K_M"
    assert prov.chat_template_sha256 == hashlib.sha256(template.encode()).hexdigest()
    lines = prov.lines()
    assert lines[0] == "file type: Q4_K_M" and "quantized by: bartowski" in lines
    assert lines[-1] == f"chat template: sha256 {prov.chat_template_sha256[:12]}"


def test_absent_keys_are_said_absent_not_guessed(tmp_path):
    prov = provenance.of_info(gguf.read_info(write_gguf(tmp_path / "bare.gguf", [])))
    assert prov.fields == () and prov.chat_template_sha256 is None
    assert prov.lines()[1:] == ["imatrix: none recorded in the file",
                                "chat template: none (a plain fallback template is used)"]


def test_hostile_metadata_is_one_printable_line(tmp_path):
    path = write_gguf(tmp_path / "evil.gguf", [("general.quantized_by", 8, _s("x\x1b]0;pwned\x07\nrow|" + "a" * 500))])
    (label, value), = provenance.of_info(gguf.read_info(path)).fields
    assert "\x1b" not in value and "\n" not in value and "\x07" not in value and len(value) <= 200


def test_the_models_screen_row_carries_what_the_file_states(tmp_path, store):
    from trust_tui.engine.models.discovery import Found
    from trust_tui.tui import data

    stated = write_gguf(tmp_path / "q.gguf", [("general.quantized_by", 8, _s("someone")),
                                            ("quantize.imatrix.dataset", 8, _s("wiki.train"))])
    row = data.read_model_row(Found(stated, stated.name, "path"), store)
    assert row.provenance == "quantized by: someone · imatrix dataset: wiki.train"
    bare = write_gguf(tmp_path / "bare.gguf", [])
    assert data.read_model_row(Found(bare, bare.name, "path"), store).provenance == ""
