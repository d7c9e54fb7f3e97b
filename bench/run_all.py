"""Run every benchmark one after another (never concurrently: they would share the 2 cores), print
all tables, and write one combined JSON to bench/results/latest.json (or --json PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import compilation
import create_to_running
import describe_throughput
import list_latency
import report
import scheduling
import stop_latency
import supervise_500

BENCHMARKS: dict[str, Callable[[bool], report.Result]] = {
    "stop_latency": stop_latency.measure,
    "create_to_running": create_to_running.measure,
    "describe_throughput": describe_throughput.measure,
    "list_latency": list_latency.measure,
    "supervise_500": supervise_500.measure,
    "scheduling": scheduling.measure,
    "compilation": compilation.measure,
}
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: each benchmark in < 30 s")
    parser.add_argument("--json", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run these benchmarks only")
    args = parser.parse_args()
    results: list[report.Result] = []
    failures: dict[str, str] = {}
    for name, measure in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        try:
            result = measure(args.quick)
        except Exception:  # one broken benchmark must not lose the others' numbers
            failures[name] = traceback.format_exc()
            print(f"{name} FAILED:\n{failures[name]}", flush=True)
            continue
        result.extra["benchmark_seconds"] = time.perf_counter() - started
        result.extra["loadavg_1m_at_end"] = os.getloadavg()[0]
        results.append(result)
    doc = report.emit(results, args.json)
    if failures:
        doc["failures"] = failures
        args.json.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    bars = [bar for result in results for bar in result.bars]
    print(f"wrote {args.json}: {sum(b.is_met for b in bars)}/{len(bars)} bars met, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
