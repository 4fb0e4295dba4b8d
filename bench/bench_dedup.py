"""Benchmark: deduplication accuracy on planted duplicates, and time and memory at scale.

Accuracy: pair precision, recall and F1 of the linked pairs (and cluster metrics) against the
synthetic truth, at the default thresholds, for 20,000 and 100,000 people. Floors: precision
at least 0.98, recall at least 0.95. The model never sees the truth: it is trained without
labels, and the truth is read only to score the result.

Scale: end-to-end linkage (normalise, train u and m, score pairs, cluster) for 100k, 300k and
1M people, each in a fresh process so its peak memory (VmHWM, which counts DuckDB's native
memory too) is its own. Floor: 1,000,000 people in under 10 minutes and under 8 GB. The
linkage reads the synthetic Parquet file directly; the SQL import is benchmarked elsewhere.

Run as `python -m bench.bench_dedup [--quick]` (quick: 20k and 100k only).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fairshare.dedup.linkage import INPUT_COLUMNS, link
from fairshare.dedup.model import PairOutcome, Thresholds, evaluate, pair_scores
from fairshare.synth.generate import generate

ACCURACY_SIZES = (20_000, 100_000)
SCALE_SIZES = (100_000, 300_000, 1_000_000)
FLOOR_PEOPLE = 1_000_000
FLOOR_SECONDS = 600.0
FLOOR_MEMORY_MB = 8 * 1024
FLOOR_PRECISION = 0.98
FLOOR_RECALL = 0.95
SEED = 42


def _peak_memory_mb() -> float:
    """Peak resident memory of this process: VmHWM from /proc, else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _write_inputs(people: int, workdir: Path) -> tuple[Path, Path, int]:
    population = generate(people=people, seed=SEED)
    records = population.records
    table = pa.table(
        {"person_id": records["record_ref"], **{c: records[c] for c in INPUT_COLUMNS[1:]}}
    )
    records_path = workdir / f"records-{people}.parquet"
    truth_path = workdir / f"truth-{people}.parquet"
    pq.write_table(table, records_path)
    pq.write_table(population.truth.select(["record_ref", "person_key"]), truth_path)
    return records_path, truth_path, population.duplicates


def measure(records_path: Path, truth_path: Path) -> dict[str, Any]:
    """Link one synthetic registry (in this process) and score it against its truth."""
    table = pq.read_table(records_path)
    started = time.perf_counter()
    result = link(table, Thresholds())
    seconds = time.perf_counter() - started
    peak = _peak_memory_mb()
    del table

    truth_table = pq.read_table(truth_path)
    truth = dict(
        zip(
            truth_table["record_ref"].to_pylist(),
            truth_table["person_key"].to_pylist(),
            strict=True,
        )
    )
    pairs = result.pairs
    linked_mask = pc.equal(pairs["outcome"], PairOutcome.LINKED.value)
    linked = pairs.filter(linked_mask)
    linked_pairs = list(
        zip(linked["person_a"].to_pylist(), linked["person_b"].to_pylist(), strict=True)
    )
    all_pairs = list(zip(pairs["person_a"].to_pylist(), pairs["person_b"].to_pylist(), strict=True))
    clusters = dict(
        zip(
            result.clusters["person_id"].to_pylist(),
            result.clusters["cluster_id"].to_pylist(),
            strict=True,
        )
    )
    scores = evaluate(linked_pairs, clusters, truth)
    with_review = pair_scores(all_pairs, truth)
    stage = result.seconds
    train = sum(v for k, v in stage.items() if k.startswith("estimate"))
    return {
        "people": result.records,
        "seconds": round(seconds, 1),
        "normalise_s": round(stage.get("normalise records", 0.0), 1),
        "train_s": round(train, 1),
        "predict_s": round(stage.get("score pairs", 0.0), 1),
        "cluster_s": round(stage.get("cluster", 0.0), 1),
        "peak_memory_mb": peak,
        "pairs_linked": linked.num_rows,
        "pairs_review": pairs.num_rows - linked.num_rows,
        "precision": round(scores.pairs.precision, 4),
        "recall": round(scores.pairs.recall, 4),
        "f1": round(scores.pairs.f1, 4),
        "recall_with_review": round(with_review.recall, 4),
        "cluster_precision": round(scores.clusters.precision, 4),
        "cluster_recall": round(scores.clusters.recall, 4),
        "cluster_f1": round(scores.clusters.f1, 4),
        "bcubed_f1": round(scores.clusters_bcubed.f1, 5),
        "load_average": round(os.getloadavg()[0], 1),
    }


def _measure_in_child(records_path: Path, truth_path: Path) -> dict[str, Any]:
    """Run `measure` in a fresh interpreter so peak memory belongs to this size alone."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_dedup", "--child", str(records_path), str(truth_path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> dict[str, Any]:
    """Accuracy at 20k and 100k; time and peak memory at 100k, 300k, 1M (quick: to 100k)."""
    sizes = sorted(set(ACCURACY_SIZES) | ({100_000} if quick else set(SCALE_SIZES)))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-dedup-") as tmp:
        for people in sizes:
            records_path, truth_path, duplicates = _write_inputs(people, Path(tmp))
            row = _measure_in_child(records_path, truth_path)
            row["duplicates"] = duplicates
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    accuracy = [r for r in results if r["people"] in ACCURACY_SIZES]
    accuracy_met = all(
        r["precision"] >= FLOOR_PRECISION and r["recall"] >= FLOOR_RECALL for r in accuracy
    )
    at_floor = next((r for r in results if r["people"] == FLOOR_PEOPLE), None)
    scale_met = (
        None
        if at_floor is None
        else at_floor["seconds"] < FLOOR_SECONDS and at_floor["peak_memory_mb"] < FLOOR_MEMORY_MB
    )
    return {
        "name": "dedup",
        "results": results,
        "floor": (
            "pair precision >= 0.98 and recall >= 0.95 at the default thresholds (0.99 / 0.8); "
            "1,000,000 people end to end in under 600 s and 8 GB"
        ),
        "floor_met": accuracy_met and scale_met is not False,
        "accuracy_floor_met": accuracy_met,
        "scale_floor_met": scale_met,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(measure(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
