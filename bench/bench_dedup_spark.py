"""Benchmark: the deduplication model on local Spark, time and accuracy at 100,000 people.

The same model as `bench_dedup` (DuckDB), run with `backend="spark"` in this process
(`local[2]`); the linkage itself, from the synthetic records to pairs and clusters. No floor
on time: Spark is for registries beyond one machine, and on one it is expected to be slower
than DuckDB. Floor: the same accuracy as DuckDB's (pair precision at least 0.98, recall at
least 0.95). Needs `pip install 'fairshare[spark]'` and Java 17 or later.

Run as `python -m bench.bench_dedup_spark [--quick]` (quick: 20,000 people).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bench.bench_dedup import FLOOR_PRECISION, FLOOR_RECALL, SEED
from fairshare.dedup.linkage import INPUT_COLUMNS, LinkageOptions, link
from fairshare.dedup.model import PairOutcome, Thresholds, evaluate
from fairshare.synth.generate import generate

# The driver is the only executor in local mode: its heap is all the memory Spark has
# (FAIRSHARE_DEDUP_MEMORY, as for `fairshare dedup run`).
DRIVER_MEMORY = os.environ.get("FAIRSHARE_DEDUP_MEMORY", "6GB")


class _PeakMemory:
    """The largest resident memory of this process's children (Spark's JVM), sampled twice a
    second from /proc while the block runs."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(0.5):
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    if stat.read_text().rsplit(")", 1)[1].split()[1] != me:
                        continue
                    status = (stat.parent / "status").read_text()
                except (OSError, IndexError):
                    continue  # the process ended meanwhile
                for line in status.splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))


def measure(people: int) -> dict[str, Any]:
    """Link a synthetic registry of `people` on local Spark and score it against its truth."""
    population = generate(people=people, seed=SEED)
    records = population.records
    table = pa.table(
        {"person_id": records["record_ref"], **{c: records[c] for c in INPUT_COLUMNS[1:]}}
    )
    started = time.perf_counter()
    options = LinkageOptions(backend="spark", threads=2, memory_limit=DRIVER_MEMORY)
    with _PeakMemory() as jvm:
        result = link(table, Thresholds(), options)
    seconds = time.perf_counter() - started
    linked = result.pairs.filter(pc.equal(result.pairs["outcome"], PairOutcome.LINKED.value))
    clusters = dict(
        zip(
            result.clusters["person_id"].to_pylist(),
            result.clusters["cluster_id"].to_pylist(),
            strict=True,
        )
    )
    truth = dict(
        zip(
            population.truth["record_ref"].to_pylist(),
            population.truth["person_key"].to_pylist(),
            strict=True,
        )
    )
    pairs = zip(linked["person_a"].to_pylist(), linked["person_b"].to_pylist(), strict=True)
    scores = evaluate(list(pairs), clusters, truth)
    return {
        "people": result.records,
        "driver_memory": DRIVER_MEMORY,
        "jvm_peak_rss_mb": round(jvm.peak_kb / 1024),
        "python_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "seconds": round(seconds, 1),
        "stages_s": result.seconds,
        "pairs_linked": linked.num_rows,
        "precision": round(scores.pairs.precision, 4),
        "recall": round(scores.pairs.recall, 4),
        "f1": round(scores.pairs.f1, 4),
        "load_average": round(os.getloadavg()[0], 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """100,000 people on local Spark (quick: 20,000)."""
    row = measure(20_000 if quick else 100_000)
    return {
        "name": "dedup-spark",
        "results": [row],
        "floor": "pair precision >= 0.98 and recall >= 0.95 (as on DuckDB); no time floor",
        "floor_met": row["precision"] >= FLOOR_PRECISION and row["recall"] >= FLOOR_RECALL,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
