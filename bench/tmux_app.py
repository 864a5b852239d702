"""Drive the real app in tmux: a quick run of one dimension on the embedded model, by keys.

    python bench/tmux_app.py [--dimension robustness] [--out bench-tmux.txt]

Starts ``trust-tui`` (no arguments: the README's first command) in a detached 120×40 tmux
session, presses ``s`` (run setup), moves to the dimension, ``o`` (only this one) and ``r``
(start), waits until the run screen says finished / cancelled / failed, saves what the screen
shows (``tmux capture-pane -p``) to a file and prints it. Uses a fresh TRUST_TUI_HOME unless
``--home`` is given, so the run generates instead of reading the cache.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIMENSIONS = ("truthfulness", "safety", "fairness", "robustness", "privacy", "ethics")
DONE = re.compile(r"^\s*(finished|cancelled|failed) · ", re.M)


SOCKET = ["-L", f"trust-tui-bench-{os.getpid()}"]  # a private tmux server


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *SOCKET, *args], check=True, capture_output=True,
                          text=True).stdout


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_for(session: str, pattern: str | re.Pattern, timeout: float, poll: float = 0.2) -> str:
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    while True:
        screen = capture(session)
        if regex.search(screen):
            return screen
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f}s for {regex.pattern!r}; the screen shows:\n{screen}")
        time.sleep(poll)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dimension", default="robustness", choices=DIMENSIONS)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "trust-tui-tmux-capture.txt"),
                        help="file for the capture (default: in the temp folder)")
    parser.add_argument("--home", default=None, help="TRUST_TUI_HOME (default: a fresh temp dir)")
    args = parser.parse_args()
    if not shutil.which("tmux"):
        print("tmux is not installed", file=sys.stderr)
        return 2
    home = args.home or tempfile.mkdtemp(prefix="trust-tui-bench-")
    session = "trust-tui"
    command = f"env TRUST_TUI_HOME={home} {sys.executable} -m trust_tui"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    started = time.monotonic()
    try:
        wait_for(session, r"\d+ models? ·", 30)  # the models screen, default model selected
        tmux("send-keys", "-t", session, "s")
        wait_for(session, r"Machine ethics", 30)  # run setup, bundle loaded
        for _ in range(DIMENSIONS.index(args.dimension)):
            tmux("send-keys", "-t", session, "Down")
        tmux("send-keys", "-t", session, "o")
        time.sleep(0.3)
        tmux("send-keys", "-t", session, "r")
        wait_for(session, r"run \d+", 60)  # the run screen knows its run id
        screen = wait_for(session, DONE, args.timeout, poll=1.0)
        elapsed = time.monotonic() - started
        Path(args.out).write_text(screen, encoding="utf-8")
        print(screen)
        print(f"[{args.dimension}: {elapsed:.1f}s from launch to the end of the run; "
              f"capture saved to {Path(args.out).resolve()}; TRUST_TUI_HOME={home}]")
        tmux("send-keys", "-t", session, "q")
        time.sleep(0.5)
        return 0 if DONE.search(screen).group(1) == "finished" else 1
    finally:
        subprocess.run(["tmux", *SOCKET, "kill-server"], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
