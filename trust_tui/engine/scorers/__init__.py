"""Scorer families. Importing this package registers every scorer (see ``base.get``)."""

from trust_tui.engine.scorers.base import Scorer, get, names, register  # noqa: F401

# Each family registers its scorers when imported; the order follows their dependencies.
from trust_tui.engine.scorers import refusal  # noqa: F401,E402  (refusal)
from trust_tui.engine.scorers import rules  # noqa: F401,E402  (abstain, premise)
from trust_tui.engine.scorers import choice  # noqa: F401,E402  (choice)
from trust_tui.engine.scorers import label  # noqa: F401,E402  (label)
from trust_tui.engine.scorers import match  # noqa: F401,E402  (match)
from trust_tui.engine.scorers import number  # noqa: F401,E402  (number)
from trust_tui.engine.scorers import neutral  # noqa: F401,E402  (neutral)
from trust_tui.engine.scorers import leakage  # noqa: F401,E402  (leakage)
from trust_tui.engine.scorers import toxicity  # noqa: F401,E402  (toxicity)
from trust_tui.engine.trustllm import scorers as trustllm  # noqa: F401,E402  (scorers for imported TrustLLM data)
