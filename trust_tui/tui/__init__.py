"""The Textual app: a thin layer over the engine. It asks the engine to run and listens.

Importing this package imports nothing heavy: llama.cpp and the engine load inside workers.
"""
