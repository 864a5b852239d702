"""One file per screen; app.py registers them by name (SCREEN_TYPES)."""
