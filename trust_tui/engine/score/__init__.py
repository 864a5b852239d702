"""Scoring what was answered: the scorecard (metrics, intervals), per-item verdicts, statistics, reviewed
verdicts (overrides), the CI gate, the review gathered for reports, and scoring answers produced elsewhere."""
