"""Where trust-tui keeps its data: platformdirs, or ``TRUST_TUI_HOME`` when set."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "trust-tui"


def home() -> Path:
    """The data directory (created on demand)."""
    override = os.environ.get("TRUST_TUI_HOME")
    base = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    return base


def config_dir() -> Path:
    override = os.environ.get("TRUST_TUI_HOME")
    if override:
        return Path(override).expanduser() / "config"
    return Path(platformdirs.user_config_dir(APP_NAME))


def db_path() -> Path:
    return home() / "trust.db"


def user_bundles_dir() -> Path:
    """Bundles made on this machine (e.g. imported from TrustLLM's dataset)."""
    return home() / "bundles"


def ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
