"""Run the benchmarks and write their results under bench/results/ (JSON and a summary).

`python -m bench.run` runs everything; `python -m bench.run synth import` runs some;
`--quick` runs the small sizes only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
BENCHMARKS = (
    "synth",
    "import",
    "eligibility",
    "dedup",
    "dedup-spark",
    "registration-check",
    "reports",
    "ledger-cycle",
    "ledger-redemption",
    "ledger-crash",
    "cards",
    "schemathesis",
)


def machine() -> dict[str, Any]:
    import os

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "calibration_ed25519_verifies_per_s": calibration(),
    }


def calibration(seconds: float = 1.0) -> int:
    """Raw Ed25519 signature checks a second on one core, taken when a result is written.

    The machines are virtual and their speed drifts (twofold between runs has been seen), so
    each result carries this figure to compare runs by.
    """
    import time

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), b"calibration" * 8
    signature = key.sign(message)
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for _ in range(100):
            public.verify(signature, message)
        done += 100
    return round(done / (time.perf_counter() - began))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHMARKS))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        module = importlib.import_module(f"bench.bench_{name.replace('-', '_')}")
        print(f"== {name}", flush=True)
        result = module.run(quick=args.quick)
        result.update(
            {
                "machine": machine(),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "quick": args.quick,
            }
        )
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2), flush=True)
        print(f"-> {path}", flush=True)
    write_summary()
    return 0


def write_summary() -> None:
    """bench/results/README.md: one table per benchmark, from the committed JSON files."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run`); each JSON file holds the full run.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        lines += [
            f"## {data.get('name', path.stem)}",
            "",
            f"Floor: {data.get('floor', '-')}. Run at {data.get('at', '?')}"
            f"{' (quick)' if data.get('quick') else ''} on "
            f"{data.get('machine', {}).get('cpus', '?')} CPUs.",
            "",
        ]
        rows = data.get("results", [])
        if rows:
            keys = list(
                dict.fromkeys(
                    k for row in rows for k, v in row.items() if not isinstance(v, dict | list)
                )
            )
            lines.append("| " + " | ".join(keys) + " |")
            lines.append("|" + "---|" * len(keys))
            for row in rows:
                lines.append("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
            lines.append("")
    (RESULTS / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
