"""Peak memory of a headless run, and what a cached rerun costs.

    flock /tmp/trust-model.lock python bench/memory.py              # the embedded model, trust-core quick
    flock /tmp/trust-model.lock python bench/memory.py MODEL.gguf --profile full
    python bench/memory.py --source /some/other/checkout          # the same run from another tree

Runs `python -m trust_tui run [MODEL] --quiet` twice in a fresh TRUST_TUI_HOME: a first run that
generates everything, then the same command again, answered from the cache. For each it prints
the child's wall time and peak resident memory (from wait4, the kernel's own count, as
`/usr/bin/time -v` reports it), the figures the run recorded (sequences, cells per sequence, KV
cells, load time: absent when the weights were never read), the model file's size, the peak
over the file's size, and the load average at the start (`uptime`): on a shared machine numbers
taken at different loads do not compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def embedded_model(source: Path) -> Path:
    code = ("from trust_tui.engine.models import files; print(files.default_model_path())")
    env = dict(os.environ, PYTHONPATH=str(source))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tempfile.gettempdir())
    if out.returncode != 0 or not out.stdout.strip():
        sys.exit(f"cannot find the embedded model: {out.stderr.strip().splitlines()[-1:] or out.stdout}")
    return Path(out.stdout.strip())


def run_once(source: Path, home: Path, args: list[str]) -> dict:
    env = dict(os.environ, TRUST_TUI_HOME=str(home), PYTHONPATH=str(source))
    started = time.perf_counter()
    # cwd: `python -m` puts the working folder first on sys.path, ahead of PYTHONPATH. Output
    # goes to files: the child is reaped with wait4 (for its rusage), which pipes could block.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        child = subprocess.Popen([sys.executable, "-m", "trust_tui", "run", *args, "--quiet"],
                                 env=env, cwd=home, stdout=out, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        sys.exit(f"run failed ({child.returncode}): {err.decode(errors='replace').strip()[-500:]}")
    peak_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    db = sqlite3.connect(home / "trust.db")
    row = db.execute("select backend, generated, cached, context from runs order by id desc limit 1").fetchone()
    db.close()
    backend = json.loads(row[0] or "{}")
    return {"wall_s": wall, "peak_mb": peak_mb, "generated": row[1], "cached": row[2],
            "parallel": backend.get("parallel"), "n_ctx": backend.get("n_ctx"),
            "kv_cells": backend.get("kv_cells"), "load_seconds": backend.get("load_seconds"),
            "recorded_peak_mb": json.loads(row[3] or "{}").get("peak_rss_mb")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", help="GGUF file (default: the embedded SmolLM2)")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--bundle", default="trust-core")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    parser.add_argument("--once", action="store_true", help="no cached rerun")
    options = parser.parse_args()
    model = Path(options.model) if options.model else embedded_model(options.source)
    size_mb = model.stat().st_size / 2 ** 20
    args = ([str(model)] if options.model else []) + ["--bundle", options.bundle, "--profile", options.profile]
    load = os.getloadavg()
    print(f"{options.source} · {model.name} ({size_mb:.1f} MiB) · {options.bundle} {options.profile} · "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="trust-memory-") as home:
        passes = [("first run", run_once(options.source, Path(home), args))]
        if not options.once:
            passes.append(("cached rerun", run_once(options.source, Path(home), args)))
    for name, r in passes:
        loaded = "never loaded" if r["load_seconds"] is None else f"load {r['load_seconds']:.2f} s"
        print(f"{name:>13}: peak RSS {r['peak_mb']:.0f} MiB (file + {r['peak_mb'] - size_mb:.0f}) · "
              f"{r['wall_s']:.1f} s · {r['parallel']} × {r['n_ctx']} cells, KV {r['kv_cells']} cells · "
              f"{loaded} · generated {r['generated']} · cached {r['cached']} · "
              f"the run's own record: {r['recorded_peak_mb']} MiB")


if __name__ == "__main__":
    main()
