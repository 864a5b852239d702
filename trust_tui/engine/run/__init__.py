"""A run: the API the CLI and the app call, the run loop, the SQLite store and what guards a run (budget,
health of the answers, the determinism recheck, the doctor)."""
