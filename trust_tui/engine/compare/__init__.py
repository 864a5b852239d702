"""Comparing runs: resolving refs to finished runs, paired statistics, agreement, reference runs."""
