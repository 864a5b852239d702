"""The in-process llama.cpp backend: the plain loop (backend.py), the batched engine (batched.py),
how a load is sized (sizing.py: one ``plan`` from the hardware, the model's header and the
workload), how prompts are rendered and tokenized (prompts.py), and the one place llama.cpp
objects are built (loader.py)."""
