"""The headless engine: backends, bundles, scorers, store, run loop, scorecard.

Nothing under ``trust_tui.engine`` may import ``textual`` (a test enforces it).
"""
