"""Backends generate answers. They all speak the protocol in ``protocol.py``."""
