"""Benchmark: the API fuzzed by schemathesis for longer than CI does.

Runs tests/e2e/test_schemathesis.py (the real server, the same world, every check) with many
more examples per operation, and writes what was exercised: the operations, the requests
made per operation and their status codes, and every failure by operation and check.

Floor (issue 7): no failures — no server error and no schema violation.

Quick mode: 10 examples per operation instead of 200. Run as
`python -m bench.run schemathesis [--quick]`. Takes tens of minutes at full size.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 200
QUICK_EXAMPLES = 10
FAILED_OPERATION = re.compile(
    r"^_+ test_api_conforms_to_its_schema \(label='(?P<label>[^']+)'\) _+$"
)
CHECK = re.compile(r"^\s*\|?\s*- (?P<code>ST\d+) (?P<title>.+)$")


def _failures(output: str) -> dict[str, list[str]]:
    """Failing operation → the checks it failed (as schemathesis names them)."""
    found: dict[str, list[str]] = defaultdict(list)
    operation = ""
    for line in output.splitlines():
        if match := FAILED_OPERATION.match(line):
            operation = match["label"]
        elif operation and (match := CHECK.match(line)):
            check = f"{match['code']} {match['title'].strip()}"
            if check not in found[operation]:
                found[operation].append(check)
    return dict(found)


def run(quick: bool = False) -> dict[str, Any]:
    examples = QUICK_EXAMPLES if quick else EXAMPLES
    with tempfile.TemporaryDirectory(prefix="fairshare-schemathesis-") as tmp:
        calls = Path(tmp) / "calls.jsonl"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
            "FAIRSHARE_SCHEMATHESIS_EXAMPLES": str(examples),
            "FAIRSHARE_SCHEMATHESIS_CALLS": str(calls),
        }
        started = time.perf_counter()
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/e2e/test_schemathesis.py",
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        records = (
            [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
        )
    requests = Counter(r["operation"] for r in records)
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        statuses[record["operation"]][str(record["status"])] += 1
    failures = _failures(finished.stdout)
    return {
        "name": "schemathesis",
        "floor": "no failing operation (no server error, no schema violation)",
        "passed": finished.returncode == 0 and not failures,
        "results": [
            {
                "examples_per_operation": examples,
                "operations": len(requests),
                "requests": sum(requests.values()),
                "server_errors": sum(
                    n for c in statuses.values() for s, n in c.items() if s.startswith("5")
                ),
                "failing_operations": len(failures),
                "seconds": round(seconds, 1),
            }
        ],
        "failures": failures,
        "operations": {
            operation: {"requests": count, "statuses": dict(sorted(statuses[operation].items()))}
            for operation, count in sorted(requests.items())
        },
        "pytest_summary": finished.stdout.strip().splitlines()[-1:] if finished.stdout else [],
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
