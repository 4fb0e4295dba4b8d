"""Synthetic populations with planted duplicates, for the demo, tests and benchmarks."""
