"""The in-process llama.cpp backend: the plain loop (backend.py), the batched engine (batched.py) and
how a context is sized (sizing.py)."""
