"""Time `trust-tui run` (quick profile by default) in fresh stores, and say how busy the machine was.

    python bench/quick_profile.py [--repeat 3] [--tree DIR] [--profile quick] [-- RUN OPTIONS]

Each repetition runs the CLI in a new TRUST_TUI_HOME (nothing cached) and prints one line: the
command's wall time, the run loop's time and peak RSS as the run recorded them, the context per
sequence and the sequences decoded together, the load average before and after (`uptime`'s
figures), and the CPU that *other* processes used meanwhile (the machine's busy time from
/proc/stat minus the run's own), which is what makes timings on a shared machine disagree.
`--tree DIR` runs the trust_tui package and the bundle of another checkout (e.g. `git archive
HEAD` unpacked in /tmp) with this virtualenv, for a before/after on the same machine; give it
more than once to interleave the trees, so that a busy spell of the machine hits all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_busy_seconds() -> float:
    """Busy CPU time of the whole machine (all cores, every process), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(tree: Path, bundle: str, profile: str, extra: list[str]) -> dict:
    home = tempfile.mkdtemp(prefix="trust-bench-")
    env = dict(os.environ, TRUST_TUI_HOME=home, PYTHONPATH=str(tree))
    # The tree's own copy of a shipped bundle, by path: an editable install maps the package's
    # bundles onto this checkout's, whichever trust_tui is imported.
    shipped = tree / "bundles" / bundle
    command = [sys.executable, "-m", "trust_tui", "run", "--bundle",
               str(shipped) if shipped.is_dir() else bundle, "--profile", profile, "--quiet", *extra]
    load_before = os.getloadavg()
    busy, own = cpu_busy_seconds(), children_cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=str(tree), capture_output=True, text=True)
    wall = time.perf_counter() - started
    busy, own = cpu_busy_seconds() - busy, children_cpu_seconds() - own
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}):\n"
                         f"{done.stdout[-1000:]}{done.stderr[-2000:]}")
    db = sqlite3.connect(Path(home) / "trust.db")
    row = db.execute("select wall_seconds, backend, context, generated, skipped, tokens_generated, "
                     "bundle || ' ' || bundle_version from runs order by id desc limit 1").fetchone()
    db.close()
    backend, context = json.loads(row[1] or "{}"), json.loads(row[2] or "{}")
    return {"tree": str(tree), "bundle": row[6], "wall": wall, "loop": row[0], "rss": context.get("peak_rss_mb"),
            "n_ctx": backend.get("n_ctx"), "parallel": backend.get("parallel"),
            "generated": row[3], "skipped": row[4], "tokens": row[5],
            "load_before": load_before, "load_after": os.getloadavg(),
            "others_cpu": max(0.0, busy - own), "own_cpu": own}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bundle", default="trust-core")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--tree", action="append", type=Path, default=None,
                        help="checkout whose trust_tui to run (default: this one; repeatable: interleaved)")
    args, extra = parser.parse_known_args()
    extra = [e for e in extra if e != "--"]
    trees = args.tree or [ROOT]
    results: dict[str, list[dict]] = {str(t): [] for t in trees}
    for _ in range(args.repeat):
        for tree in trees:
            r = run_once(tree.resolve(), args.bundle, args.profile, extra)
            results[str(tree)].append(r)
            print(f"{tree} ({r['bundle']}): {r['wall']:.1f} s wall, {r['loop']:.1f} s run loop, peak RSS {r['rss']} MiB, "
                  f"{r['parallel']} x {r['n_ctx']} tokens, {r['generated']} generated / "
                  f"{r['skipped']} skipped, {r['tokens']} tokens; load average "
                  f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}; other processes used "
                  f"{r['others_cpu']:.0f} s CPU (the run {r['own_cpu']:.0f} s)", flush=True)
    for tree, rows in results.items():
        loops = [r["loop"] for r in rows]
        print(f"{tree}: run loop median {statistics.median(loops):.1f} s "
              f"(min {min(loops):.1f}, max {max(loops):.1f}, {len(rows)} runs); "
              f"peak RSS median {statistics.median(r['rss'] or 0 for r in rows):.0f} MiB")


if __name__ == "__main__":
    main()
