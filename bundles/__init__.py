"""Shipped bundles; installed as the package ``trust_tui._bundles`` (see pyproject.toml)."""
