"""Readers of the store that produce shareable scorecards (Markdown for people, JSON for machines)."""
