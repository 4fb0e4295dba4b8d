"""Benchmarks: each module has run(quick) -> dict; bench.run writes bench/results/."""
