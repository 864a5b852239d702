"""The TrustLLM feature in one package: the importer (importer, records, subtasks), its scorers, its
metrics and the published reference numbers (reference, trustllm_leaderboard.toml)."""
