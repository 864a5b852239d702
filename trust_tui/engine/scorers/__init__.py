"""Scorer families, one module each; the registry (``base``) imports them by name when a scorer is
first looked up (``base.SCORER_MODULES``), so importing this package registers nothing by itself."""

from trust_tui.engine.scorers.base import Scorer, get, names, register  # noqa: F401
