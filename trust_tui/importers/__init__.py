"""Importers: turn a published benchmark's files into a trust-tui bundle in the user's data dir.

Each importer is a plain function from a dataset path to a written bundle plus a report of what
was imported and what was skipped (with the reason); the CLI's ``trust-tui import`` commands are
thin calls into them. Nothing here generates or scores: the bundle then runs like any other.
"""
