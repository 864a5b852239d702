"""Hardware and build context recorded with every run (so a scorecard says what it ran on)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def nvidia_smi(field: str) -> list[str] | None:
    """One line per GPU of ``nvidia-smi --query-gpu=FIELD`` (no header, no units); None without one."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run([smi, f"--query-gpu={field}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


@lru_cache(maxsize=1)
def gpu_name() -> str | None:
    return ", ".join(nvidia_smi("name") or []) or None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_bytes() -> int | None:
    """Physical memory of the machine, or None where the platform does not say (Windows)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def llama_build() -> dict[str, Any]:
    try:
        import llama_cpp
    except ImportError:
        return {"llama_cpp_python": None, "system_info": None, "gpu_offload": False}
    try:
        system_info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()
    except Exception:  # noqa: BLE001 - informational only, never worth failing a run
        system_info = None
    return {
        "llama_cpp_python": getattr(llama_cpp, "__version__", None),
        "system_info": system_info,
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
    }


def context(threads: int | None = None, n_gpu_layers: int | None = None) -> dict[str, Any]:
    build = llama_build()
    return {
        "cpu": cpu_model(),
        "cpu_count": cpu_count(),
        "threads": threads,
        "gpu": gpu_name() if build.get("gpu_offload") else None,
        "n_gpu_layers": n_gpu_layers,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **build,
    }
