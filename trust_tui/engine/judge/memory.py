"""When may the audited model and the judge be in memory at once?

Only when both fit: each needs its weights (the GGUF's tensor data, read from the header: the
file size is a close upper bound), its KV cache (from the header's layer and head counts) and
some working room; together they must stay within the free memory the machine reports (RAM,
or the GPU's free memory when layers are offloaded), with a margin. Otherwise the audited model
is closed once its answers are in, and only then is the judge loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from trust_tui.engine.models import files as models

# Compute buffers, the tokenizer and Python's own share beside the weights and the KV cache.
OVERHEAD_BYTES = 256 * 1024 * 1024
# What a plan may use of the free memory: the rest is for the system and other programs.
USABLE_SHARE = 0.8
# KV cells assumed per model when nothing better is known: 16 sequences of 1024 tokens
# (batched.KV_CELLS_BUDGET_CPU), the most a run on a CPU allocates.
PLANNED_CELLS = 16 * 1024


@dataclass(frozen=True)
class LoadPlan:
    together: bool
    need_bytes: int  # both models
    free_bytes: int | None
    where: str  # "RAM" | "GPU"
    reason: str


def need_bytes(model: models.ModelFile, cells: int = PLANNED_CELLS) -> int:
    from trust_tui.engine.backends.llamacpp.sizing import kv_bytes_per_token

    per_cell = kv_bytes_per_token(model.info.metadata) or 0
    return int(model.info.size + per_cell * cells + OVERHEAD_BYTES)


def free_ram_bytes() -> int | None:
    """MemAvailable (Linux), else None: the platform does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def free_gpu_bytes() -> int | None:
    from trust_tui.engine.models.hardware import nvidia_smi

    try:
        values = [int(v) for v in nvidia_smi("memory.free") or []]
    except ValueError:
        return None
    return min(values) * 1024 * 1024 if values else None


def plan(audited: models.ModelFile | None, judge: models.ModelFile, gpu: bool = False,
         free_bytes: int | None = None) -> LoadPlan:
    """Whether ``audited`` (None: a server, nothing local) and ``judge`` may be loaded together.

    ``free_bytes`` is for tests and callers that measured already; otherwise it is read now."""
    where = "GPU" if gpu else "RAM"
    judge_need = need_bytes(judge)
    if audited is None:
        return LoadPlan(True, judge_need, free_bytes, where, "the audited model runs on a server")
    if audited.sha256 == judge.sha256:
        return LoadPlan(False, judge_need, free_bytes, where,
                        "the judge is the audited file: loaded again after the answers are in")
    total = need_bytes(audited) + judge_need
    free = free_bytes if free_bytes is not None else (free_gpu_bytes() if gpu else free_ram_bytes())
    mib = 1024 * 1024
    if free is None:
        return LoadPlan(False, total, None, where,
                        f"free {where} unknown: the judge is loaded after the answers are in")
    if total <= free * USABLE_SHARE:
        return LoadPlan(True, total, free, where,
                        f"both fit: {total // mib} MiB of {free // mib} MiB free {where}")
    return LoadPlan(False, total, free, where,
                    f"both need {total // mib} MiB, {free // mib} MiB free {where}: "
                    "the judge is loaded after the answers are in")


def server_plan() -> LoadPlan:
    """A judge behind a server needs no memory here: the audited model may stay loaded."""
    return LoadPlan(True, 0, None, "server", "the judge runs on a server: nothing to load here")
