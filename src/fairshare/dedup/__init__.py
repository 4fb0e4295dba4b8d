"""Deduplication: finding the same person registered twice (Splink on DuckDB)."""
