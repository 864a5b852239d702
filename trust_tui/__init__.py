"""trust-tui: audit how trustworthy a local GGUF model is, offline.

The engine (``trust_tui.engine``) is headless and importable; the Textual app
(``trust_tui.tui``) is a thin layer over it. Importing this package has no side effects.
"""

__version__ = "0.1.0"
