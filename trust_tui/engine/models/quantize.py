"""Quantize a GGUF model with llama.cpp's own quantizer, as exposed by llama-cpp-python.

``llama_model_quantize`` is one blocking C call. Its per-tensor log lines ("[ 12/272] blk.0…")
arrive through llama.cpp's log callback, which is turned into progress here; its error line
("failed to quantize: …") becomes the one-line message of a ``QuantizeError``.

What users must be told, and this module reports: the tensor types actually written (a small
model's 576-wide tensors cannot use 256-wide K-quant blocks and fall back per tensor to another
type), and that quantizing an already-quantized file stacks two quantizations.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from trust_tui import paths
from trust_tui.engine.models import gguf
from trust_tui.errors import TrustError

# llama_ftype values (general.file_type) by the names llama-quantize accepts.
FTYPES: dict[str, int] = {name: ftype for ftype, name in gguf.FILE_TYPES.items()
                          if name not in ("MXFP4_MOE",)}
ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M", "FP16": "F16", "FP32": "F32"}

# Types whose tensors llama.cpp refuses to write without an importance matrix (llama-quant.cpp).
# llama-cpp-python's API cannot pass one (the field is a pointer to a C++ map), so these are
# refused up front instead of failing halfway through the file.
NEEDS_IMATRIX = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "Q2_K_S"})
UNQUANTIZED = frozenset({"F32", "F16", "BF16"})
# The usual choices, largest first (what `--help` and error messages suggest).
COMMON = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q3_K_S", "Q2_K")

_PROGRESS = re.compile(r"^\[\s*(\d+)\s*/\s*(\d+)\]\s+(\S+)")
_FAILED = re.compile(r"failed to quantize:\s*(.*)")
_FALLBACK = re.compile(r"(\d+) of (\d+) tensor\(s\) required fallback quantization")


class QuantizeError(TrustError):
    """The quantization cannot be done as asked (type, source, output)."""

    exit_code = 2


@dataclass(frozen=True)
class QuantizeResult:
    source: Path
    output: Path
    requested: str  # the type asked for, e.g. "Q2_K"
    source_type: str  # the source's file type, e.g. "Q4_1"
    written_type: str  # general.file_type of the result (says what was asked, not what was written)
    tensor_types: dict[str, int]  # ggml type -> tensor count actually written
    size: int
    source_size: int
    seconds: float
    requantized: bool
    fallback_tensors: int | None = None  # tensors that could not take the requested block type
    total_tensors: int = 0
    replaced: bool = False  # an existing file at ``output`` was overwritten
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tensor_mix(self) -> str:
        parts = sorted(self.tensor_types.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name.lower()} ×{count}" for name, count in parts)

    def notes(self) -> list[str]:
        """What a user must know about the file that was written, one sentence each."""
        notes = []
        if self.requantized:
            notes.append(
                f"the source was already {self.source_type}: this file stacks two quantizations "
                f"({self.source_type} then {self.requested}), so it is further from the original "
                f"model than a {self.requested} made from F16/BF16 weights")
        if self.fallback_tensors:
            notes.append(
                f"{self.fallback_tensors} of {self.total_tensors} tensors could not use "
                f"{self.requested}'s block size and fell back to another type; the file is labelled "
                f"{self.written_type} but holds {self.tensor_mix}")
        notes.extend(self.warnings)
        return notes


def normalise_type(name: str) -> str:
    """The canonical type name for what a user typed ('q4_k_m', 'Q4_K' ...)."""
    key = name.strip().upper().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in FTYPES:
        raise QuantizeError(
            f"unknown quantization type {name!r}; choose one of {', '.join(COMMON)} "
            f"(or {', '.join(sorted(set(FTYPES) - set(COMMON)))})")
    return key


def is_quantized(info: gguf.GGUFInfo) -> bool:
    """True when any tensor is stored in a quantized type (not F32/F16/BF16)."""
    if info.tensor_types:
        return any(name not in UNQUANTIZED for name in info.tensor_types)
    return info.file_type not in UNQUANTIZED


_TYPE_SUFFIX = re.compile(
    r"[._-](?:" + "|".join(sorted((re.escape(n) for n in list(FTYPES) + list(ALIASES)), key=len, reverse=True))
    + r")$", re.IGNORECASE)


def default_output(source: Path, type_name: str) -> Path:
    """``<name>.<TYPE>.gguf`` next to the source, or in trust-tui's models folder when the source
    sits inside a Python installation (the embedded model) or in a folder we cannot write."""
    stem = _TYPE_SUFFIX.sub("", source.stem) or source.stem
    name = f"{stem}.{type_name}.gguf"
    folder = source.parent
    inside_python = any(part in ("site-packages", "dist-packages") for part in folder.parts)
    if inside_python or not os.access(folder, os.W_OK):
        folder = paths.home() / "models"
    return folder / name


def plan(source: str | Path, type_name: str, output: str | Path | None = None,
         allow_requantize: bool = False) -> tuple[Path, str, Path, gguf.GGUFInfo]:
    """Check everything that can be checked before llama.cpp starts: (source, type, output, info)."""
    from trust_tui.engine.models.files import resolve_model_path

    requested = normalise_type(type_name)
    if requested in NEEDS_IMATRIX:
        raise QuantizeError(
            f"{requested} needs an importance matrix, which llama-cpp-python's quantization API "
            "cannot pass; make it with llama.cpp's llama-imatrix and llama-quantize, or choose "
            "Q2_K or a larger type")
    source_path = resolve_model_path(str(source) if source else None)
    info = gguf.read_info(source_path)  # not a GGUF, truncated, missing: one-line ModelError
    if is_quantized(info) and not allow_requantize:
        raise QuantizeError(
            f"{source_path.name} is already quantized ({info.file_type}); quantizing it again to "
            f"{requested} stacks two quantizations and loses more than quantizing the original "
            "F16/BF16 weights would; pass --allow-requantize to do it anyway")
    target = Path(output).expanduser() if output else default_output(source_path, requested)
    target = target.resolve() if target.parent.exists() else target.absolute()
    if target.is_dir():
        raise QuantizeError(f"{target}: is a folder; give a file name ending in .gguf")
    if target == source_path.resolve():
        raise QuantizeError(f"{target}: the output would overwrite the source; choose another -o")
    return source_path, requested, target, info


@contextlib.contextmanager
def _captured_log(on_line: Callable[[int, str], None]) -> Iterator[None]:
    """Route llama.cpp's log to ``on_line`` for the duration (then back to llama-cpp-python's)."""
    import llama_cpp
    import llama_cpp._logger as default_logger

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        try:
            on_line(level, text.decode("utf-8", errors="replace"))
        except Exception:  # noqa: BLE001 - an exception must never cross into C
            pass

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        yield
    finally:
        llama_cpp.llama_log_set(default_logger.llama_log_callback, ctypes.c_void_p(0))
        del callback


def quantize(
    source: str | Path | None,
    type_name: str,
    output: str | Path | None = None,
    allow_requantize: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    threads: int | None = None,
) -> QuantizeResult:
    """Write ``source`` quantized to ``type_name``; ``progress(done, total, tensor)`` per tensor."""
    source_path, requested, target, info = plan(source, type_name, output, allow_requantize)
    requantized = is_quantized(info)
    if output is not None and not target.parent.is_dir():
        raise QuantizeError(f"{target}: cannot write (folder {target.parent} does not exist)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # trust-tui's own models folder
        handle = _temp_file(target)
    except OSError as exc:
        raise QuantizeError(f"{target}: cannot write ({exc.strerror or exc})") from None
    replaced = target.exists()
    errors: list[str] = []
    fallback: list[tuple[int, int]] = []
    total = sum(info.tensor_types.values())
    partial = {"text": ""}

    def on_line(level: int, text: str) -> None:
        # llama.cpp logs a line in pieces ("[ 12/272] name - …, ", "converting to q4_0 .. ",
        # "size = …\n"); a piece that starts with "[" starts a new tensor.
        match = _PROGRESS.match(text)
        if match and progress is not None:
            progress(int(match.group(1)), int(match.group(2)), match.group(3))
        partial["text"] += text
        if "\n" in text:
            line, partial["text"] = partial["text"], ""
            if (found := _FAILED.search(line)) is not None:
                errors.append(found.group(1).strip())
            if (found := _FALLBACK.search(line)) is not None:
                fallback.append((int(found.group(1)), int(found.group(2))))

    started = time.perf_counter()
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a broken install
        _remove(handle)
        raise QuantizeError(f"llama-cpp-python is not importable ({exc})") from None
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[requested]
    params.allow_requantize = bool(allow_requantize)
    params.nthread = int(threads or 0)  # 0: llama.cpp uses every core
    result_code = [1]

    def call() -> None:
        result_code[0] = llama_cpp.llama_model_quantize(
            str(source_path).encode(), str(handle).encode(), ctypes.byref(params))

    try:
        with _captured_log(on_line):
            # In a thread, so Ctrl-C reaches Python while llama.cpp works (the file is then removed).
            worker = threading.Thread(target=call, name="trust-tui-quantize", daemon=True)
            worker.start()
            while worker.is_alive():
                worker.join(0.1)
    except BaseException:
        _remove(handle)
        raise
    if result_code[0] != 0:
        _remove(handle)
        reason = errors[-1] if errors else f"llama_model_quantize returned {result_code[0]}"
        if "imatrix" in reason or "importance matrix" in reason:
            reason = f"{requested} needs an importance matrix, which this command cannot pass"
        raise QuantizeError(f"{source_path.name} → {requested}: llama.cpp could not quantize ({reason})")
    try:
        written = gguf.read_info(handle)
        handle.replace(target)
    except (OSError, TrustError) as exc:
        _remove(handle)
        raise QuantizeError(f"{target}: cannot write ({getattr(exc, 'strerror', None) or exc})") from None
    seconds = time.perf_counter() - started
    # None when this llama.cpp logs no fallback count: the tensor mix still tells the truth.
    fallback_count = fallback[-1][0] if fallback else None
    warnings = []
    if requested.startswith("IQ"):
        warnings.append(f"{requested} is designed for use with an importance matrix, which this "
                        "command cannot pass; expect lower quality than llama-quantize with --imatrix")
    return QuantizeResult(
        source=source_path, output=target, requested=requested, source_type=info.file_type,
        written_type=written.file_type, tensor_types=dict(written.tensor_types), size=written.size,
        source_size=info.size, seconds=seconds, requantized=requantized,
        fallback_tensors=fallback_count, total_tensors=sum(written.tensor_types.values()) or total,
        replaced=replaced, warnings=tuple(warnings),
    )


def _temp_file(target: Path) -> Path:
    """A fresh file next to the target (same filesystem, so the final rename is atomic)."""
    candidate = target.with_name(f".{target.name}.{os.getpid()}.part")
    with open(candidate, "wb"):
        pass
    return candidate


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
