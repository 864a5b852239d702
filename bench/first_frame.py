"""Time from process start to the app's first frame, measured from outside in tmux.

    python bench/first_frame.py [--runs 5]

Each run starts ``python -m trust_tui`` (what ``trust-tui`` runs) in a detached tmux session
and polls ``capture-pane`` every few milliseconds: "first frame" is when the header
("trust-tui — models") is on screen, "models listed" when the model rows are. The clock starts
just before tmux is asked to start the process, so tmux's own start-up is included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


SOCKET = ["-L", f"trust-tui-bench-{os.getpid()}"]  # a private tmux server


def tmux(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", *SOCKET, *args], capture_output=True, text=True, check=check)


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def one(home: str, index: int, timeout: float = 20.0) -> tuple[float, float]:
    session = f"trust-tui-frame-{os.getpid()}-{index}"
    command = f"env TRUST_TUI_HOME={home} {sys.executable} -m trust_tui"
    started = time.perf_counter()
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command, check=True)
    first = listed = None
    try:
        while time.perf_counter() - started < timeout:
            screen = capture(session)
            now = time.perf_counter() - started
            if first is None and "trust-tui" in screen and "models" in screen:
                first = now
            if first is not None and ("never run" in screen or "%" in screen
                                      or "No GGUF models" in screen):
                listed = now
                break
            time.sleep(0.005)
    finally:
        tmux("send-keys", "-t", session, "q")
        time.sleep(0.3)
        tmux("kill-session", "-t", session)
    if first is None or listed is None:
        raise TimeoutError("the app did not draw its first frame")
    return first, listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="trust-tui-frame-")
    # A session that outlives the measured ones keeps the private server up between runs.
    tmux("new-session", "-d", "-s", "keeper", "sleep 3600", check=True)
    try:
        results = [one(home, i) for i in range(args.runs)]
    finally:
        tmux("kill-server")
    for i, (first, listed) in enumerate(results, 1):
        print(f"run {i}: first frame {first:.3f}s · models listed {listed:.3f}s")
    firsts = [r[0] for r in results]
    print(f"first frame: median {statistics.median(firsts):.3f}s, worst {max(firsts):.3f}s "
          f"(budget 1.5s) · models listed: median {statistics.median(r[1] for r in results):.3f}s")
    return 0 if max(firsts) <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
