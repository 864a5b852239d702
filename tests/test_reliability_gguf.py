"""Damaged or hand-edited GGUF headers give one line, never a ZeroDivisionError or a crash, and
a load that llama.cpp refuses says llama.cpp's own reason."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from trust_tui.engine.models import gguf
from trust_tui.engine.backends.llamacpp.sizing import kv_bytes_per_token
from trust_tui.errors import ModelError


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _value(value) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return 7, struct.pack("<?", value)
    if isinstance(value, int):
        return (4, struct.pack("<I", value)) if 0 <= value < 1 << 32 else (11, struct.pack("<q", value))
    if isinstance(value, float):
        return 6, struct.pack("<f", value)
    if isinstance(value, str):
        return 8, _string(value)
    if isinstance(value, list):
        item_type, _ = _value(value[0])
        return 9, struct.pack("<IQ", item_type, len(value)) + b"".join(_value(v)[1] for v in value)
    raise TypeError(value)


def gguf_bytes(metadata: dict, tensors: list[tuple[str, list[int], int]] = (), data: bytes = b"") -> bytes:
    """A GGUF v3 file: the metadata, a tensor table of (name, dims, ggml type) laid out back to
    back, and ``data`` after the aligned header."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, value in metadata.items():
        type_id, payload = _value(value)
        out += _string(key) + struct.pack("<I", type_id) + payload
    offset = 0
    for name, dims, type_id in tensors:
        out += _string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", type_id, offset)
        _, block, size = gguf.GGML_TYPES[type_id]
        count = 1
        for d in dims:
            count *= d
        offset += count // block * size
    out += b"\0" * (-len(out) % 32)
    return bytes(out) + (data or b"\0" * offset)


def llama_metadata(**overrides) -> dict:
    meta = {"general.architecture": "llama", "general.name": "crafted", "general.file_type": 0,
            "llama.context_length": 2048, "llama.block_count": 2, "llama.embedding_length": 64,
            "llama.attention.head_count": 4, "llama.attention.head_count_kv": 4}
    meta.update(overrides)
    return {k: v for k, v in meta.items() if v is not None}


def write_gguf(path: Path, **overrides) -> Path:
    path.write_bytes(gguf_bytes(llama_metadata(**overrides), [("token_embd.weight", [64, 8], 0)]))
    return path


def test_a_crafted_header_reads_back(tmp_path):
    info = gguf.read_info(write_gguf(tmp_path / "ok.gguf"))
    assert info.architecture == "llama" and info.metadata["llama.attention.head_count"] == 4
    assert kv_bytes_per_token(info.metadata) == 2 * 4 * (16 + 16) * 2


@pytest.mark.parametrize("value, fragment", [
    (0, "head_count is 0"), (1 << 20, "head_count is 1048576"), (65, "embedding length 64")])
def test_absurd_head_count_is_one_line(tmp_path, value, fragment):
    path = write_gguf(tmp_path / "bad.gguf", **{"llama.attention.head_count": value})
    with pytest.raises(ModelError, match=fragment):
        gguf.read_info(path)


def test_kv_sizing_never_divides_by_zero():
    # What the issue hit: head_count 0 reached `embd // heads` before llama.cpp was called.
    meta = llama_metadata(**{"llama.attention.head_count": 0})
    assert kv_bytes_per_token(meta) is None
    assert kv_bytes_per_token(llama_metadata(**{"llama.attention.head_count": None})) is None


def test_a_recurrent_model_may_have_no_heads(tmp_path):
    meta = {"general.architecture": "mamba", "mamba.attention.head_count": 0, "mamba.embedding_length": 64}
    path = tmp_path / "mamba.gguf"
    path.write_bytes(gguf_bytes(meta))
    assert gguf.read_info(path).architecture == "mamba"


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "trust_tui", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, TRUST_TUI_HOME=str(home)))


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_head_count_zero(tmp_path):
    path = write_gguf(tmp_path / "zero.gguf", **{"llama.attention.head_count": 0})
    assert "head_count is 0" in _one_line(_cli("run", str(path), home=tmp_path / "home"))


def _patched(smol_path: Path, tmp_path: Path, name: str, edit) -> Path:
    data = bytearray(smol_path.read_bytes())
    key = b"llama.attention.head_count\x04\x00\x00\x00"  # the key, then its type (uint32)
    at = data.index(key)
    edit(data, at, at + len(key))
    out = tmp_path / name
    out.write_bytes(data)
    return out


@pytest.mark.model
def test_real_model_with_head_count_zero(smol_path, tmp_path):
    path = _patched(smol_path, tmp_path, "zero.gguf", lambda d, at, end: struct.pack_into("<I", d, end, 0))
    assert "head_count is 0" in _one_line(_cli("run", str(path), home=tmp_path / "home"))


@pytest.mark.model
def test_llama_cpp_reason_reaches_the_user(smol_path, tmp_path):
    # The key renamed in place: the reader has nothing to refuse, llama.cpp loads n_head = 0 and
    # fails a tensor shape check. Before, the user saw only "Failed to load model from file".
    def rename(data, at, end):
        data[end - 5:end - 4] = b"X"

    path = _patched(smol_path, tmp_path, "nohead.gguf", rename)
    line = _one_line(_cli("run", str(path), home=tmp_path / "home"))
    assert "llama.cpp: error loading model" in line and "wrong shape" in line


@pytest.mark.model
def test_context_errors_quote_llama_cpp(tmp_path):
    line = _one_line(_cli("run", "--parallel", "100000", "--subtask", "safety/jailbreak",
                          "--quiet", home=tmp_path / "home"))
    assert "n_seq_max must be <= 256" in line
