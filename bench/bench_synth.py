"""Benchmark: how fast the synthetic population generates and writes.

The floor: 1,000,000 people in under 60 s on the 2-core reference machine.
Run as `python -m bench.bench_synth [--quick]`; prints the result as JSON.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fairshare.synth.generate import generate, write

FLOOR_PEOPLE = 1_000_000
FLOOR_SECONDS = 60.0


def _measure(people: int, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    population = generate(people=people, seed=42)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    records_path, truth_path = write(population, workdir / f"synth-{people}", "parquet")
    written = time.perf_counter() - started
    return {
        "people": people,
        "households": population.households,
        "duplicates": population.duplicates,
        "seconds": round(generated, 3),
        "people_per_second": round(people / generated),
        "write_parquet_seconds": round(written, 3),
        "parquet_bytes": records_path.stat().st_size + truth_path.stat().st_size,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Time generate() for 100k and 1M people (100k only when quick), and writing Parquet."""
    sizes = [100_000] if quick else [100_000, FLOOR_PEOPLE]
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        results = [_measure(people, Path(tmp)) for people in sizes]
    floor_result = next((r for r in results if r["people"] == FLOOR_PEOPLE), None)
    return {
        "name": "synth",
        "results": results,
        "floor": "1,000,000 people in under 60 s",
        "floor_met": None if floor_result is None else floor_result["seconds"] < FLOOR_SECONDS,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
