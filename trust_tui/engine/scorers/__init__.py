"""Scorer families. Importing this package registers every scorer (see ``base.get``)."""

from trust_tui.engine.scorers.base import Scorer, get, names, register  # noqa: F401
