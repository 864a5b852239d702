"""Read a GGUF file's header (metadata and tensor table) without loading its weights.

Also checks that the file is complete: the tensor table says where the data ends, so a
truncated download is caught here with a clear message instead of a crash inside llama.cpp.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from trust_tui.errors import ModelError

MAGIC = b"GGUF"

# ggml tensor types: id -> (name, elements per block, bytes per block)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
}

# llama_ftype (general.file_type) -> the name users know
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_MAX_STRING = 64 * 1024 * 1024  # a tokenizer vocabulary string is tiny; anything bigger is corruption


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    size: int
    version: int
    architecture: str
    name: str
    parameters: int
    file_type: str
    context_length: int | None
    has_chat_template: bool
    chat_template: str | None
    tensor_types: dict[str, int] = field(default_factory=dict)  # ggml type -> tensor count
    metadata: dict[str, Any] = field(default_factory=dict)  # scalar metadata (arrays summarised)

    @property
    def quantization(self) -> str:
        return self.file_type

    def tensor_mix(self) -> str:
        """E.g. 'q4_0 ×181, q2_k ×30, f32 ×61': what was actually written, not what was asked."""
        parts = sorted(self.tensor_types.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name.lower()} ×{count}" for name, count in parts)


class _Reader:
    def __init__(self, handle: BinaryIO, path: Path, size: int):
        self.handle, self.path, self.size = handle, path, size

    def read(self, n: int) -> bytes:
        data = self.handle.read(n)
        if len(data) != n:
            raise ModelError(f"{self.path}: truncated GGUF header (file ends at byte {self.size})")
        return data

    def scalar(self, type_id: int) -> Any:
        fmt = _SCALARS[type_id]
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = self.scalar(10)
        if length > _MAX_STRING:
            raise ModelError(f"{self.path}: corrupt GGUF header (string of {length} bytes)")
        return self.read(length).decode("utf-8", errors="replace")

    def value(self, type_id: int, keep_arrays: bool) -> Any:
        if type_id in _SCALARS:
            return self.scalar(type_id)
        if type_id == 8:
            return self.string()
        if type_id == 9:
            item_type = self.scalar(4)
            count = self.scalar(10)
            if count > 1 << 32:
                raise ModelError(f"{self.path}: corrupt GGUF header (array of {count} items)")
            if item_type in _SCALARS and not keep_arrays:
                self.handle.seek(struct.calcsize(_SCALARS[item_type]) * count, 1)
                return f"<array of {count}>"
            values = [self.value(item_type, keep_arrays) for _ in range(count)]
            return values if keep_arrays else f"<array of {count}>"
        raise ModelError(f"{self.path}: corrupt GGUF header (unknown value type {type_id})")


def read_info(path: str | Path) -> GGUFInfo:
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not a GGUF model file")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            return _parse(_Reader(handle, path, size), path, size)
    except PermissionError:
        raise ModelError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse(reader: _Reader, path: Path, size: int) -> GGUFInfo:
    head = reader.handle.read(4)
    if head != MAGIC:
        raise ModelError(f"{path}: not a GGUF model file (it does not start with 'GGUF')")
    version = reader.scalar(4)
    if version not in (2, 3):
        raise ModelError(f"{path}: unsupported GGUF version {version}")
    tensor_count, kv_count = reader.scalar(10), reader.scalar(10)
    if tensor_count > 1 << 24 or kv_count > 1 << 24:
        raise ModelError(f"{path}: corrupt GGUF header")
    metadata: dict[str, Any] = {}
    template = None
    for _ in range(kv_count):
        key = reader.string()
        type_id = reader.scalar(4)
        value = reader.value(type_id, keep_arrays=False)
        if key == "tokenizer.chat_template":
            template = value
            value = f"<template of {len(value)} chars>"
        metadata[key] = value
    tensor_types: dict[str, int] = {}
    parameters = 0
    data_end = 0
    sizes_known = True
    for _ in range(tensor_count):
        reader.string()  # tensor name
        n_dims = reader.scalar(4)
        if n_dims > 8:
            raise ModelError(f"{path}: corrupt GGUF tensor table")
        elements = 1
        for _ in range(n_dims):
            elements *= reader.scalar(10)
        type_id = reader.scalar(4)
        offset = reader.scalar(10)
        parameters += elements
        type_name, block, type_size = GGML_TYPES.get(type_id, (f"type{type_id}", 0, 0))
        tensor_types[type_name] = tensor_types.get(type_name, 0) + 1
        if block:
            data_end = max(data_end, offset + elements // block * type_size)
        else:
            sizes_known = False
    alignment = int(metadata.get("general.alignment", 32) or 32)
    header_end = reader.handle.tell()
    data_start = (header_end + alignment - 1) // alignment * alignment
    if sizes_known and data_start + data_end > size:
        missing = data_start + data_end - size
        raise ModelError(f"{path}: truncated GGUF file ({missing:,} bytes of tensor data missing)")
    arch = str(metadata.get("general.architecture", "unknown"))
    _check_shape(path, arch, metadata)
    context = metadata.get(f"{arch}.context_length")
    file_type_id = metadata.get("general.file_type")
    if isinstance(file_type_id, int) and file_type_id in FILE_TYPES:
        file_type = FILE_TYPES[file_type_id]
    elif tensor_types:
        file_type = max(tensor_types.items(), key=lambda kv: kv[1])[0] + "?"
    else:
        file_type = "unknown"
    return GGUFInfo(
        path=path, size=size, version=version, architecture=arch,
        name=str(metadata.get("general.name") or path.stem), parameters=parameters,
        file_type=file_type, context_length=int(context) if isinstance(context, int) else None,
        has_chat_template=bool(template), chat_template=template or None,
        tensor_types=tensor_types, metadata=metadata,
    )


# Recurrent architectures have no attention heads, and say so with a head count of 0.
_HEADLESS = ("mamba", "rwkv")
_MAX_HEADS = 1 << 14  # the largest published models have a few hundred


def _check_shape(path: Path, arch: str, metadata: dict[str, Any]) -> None:
    """Attention shape values that no working model has (a damaged or hand-edited header) are
    refused here in one line, before anything divides by them or hands them to llama.cpp.
    Per-layer arrays and missing keys are left to llama.cpp, which names the key it needs."""
    embd = metadata.get(f"{arch}.embedding_length")
    for suffix in ("attention.head_count", "attention.head_count_kv"):
        key = f"{arch}.{suffix}"
        value = metadata.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            continue  # absent, or an array summarised as "<array of N>"
        headless = arch.startswith(_HEADLESS)
        if value == 0 and not headless and suffix == "attention.head_count":
            raise ModelError(f"{path}: damaged or unsupported GGUF: {key} is 0 "
                             "(an attention model needs at least one head)")
        if value < 0 or value > _MAX_HEADS or (isinstance(embd, int) and embd > 0 and value > embd):
            raise ModelError(f"{path}: damaged or unsupported GGUF: {key} is {value}"
                             + (f" (embedding length {embd})" if isinstance(embd, int) else ""))


def human_params(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}" if n < 10 * scale else f"{n / scale:.0f}{unit}"
    return str(n)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
