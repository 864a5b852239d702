"""One exception family whose messages are meant for users.

The CLI prints ``str(error)`` as one red line and exits non-zero; the app shows it as a
notification. Anything that is not a ``TrustError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class TrustError(Exception):
    """Base class: the message is one line a user can act on."""

    exit_code = 1


class ModelError(TrustError):
    """A model file is missing, not a GGUF, truncated, or cannot be loaded."""

    exit_code = 2


class BundleError(TrustError):
    """A bundle is unknown or fails validation (the message names file:line and field)."""

    exit_code = 3


class StoreError(TrustError):
    """The SQLite store cannot be opened or written (read-only or full disk, corruption)."""

    exit_code = 4


class RunNotFound(TrustError):
    exit_code = 5


class BackendError(TrustError):
    """A backend failed in a way that stops the run (server unreachable, out of memory)."""

    exit_code = 6


class Cancelled(TrustError):
    """The user cancelled; everything finished so far is stored."""

    exit_code = 130


# `trust-tui run` finished and printed its scorecard, but the answers look broken (mostly empty,
# identical or unreadable: a damaged model file, a wrong chat template): not a result to trust.
ANSWERS_LOOK_BROKEN = 8  # 7 is NotComparable (compare), 9 GateFailed (gate)
