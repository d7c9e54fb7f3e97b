"""Benchmark statistics and output: percentiles, a Rich table, and one JSON document per run."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

_console = Console(stderr=True, width=120)  # tables go to stderr so stdout carries only the JSON document


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """count, min, p50 (the median), p90, p99, max and mean of `samples`."""
    if not samples:
        return {"count": 0}
    return {
        "count": len(samples),
        "min": min(samples),
        "p50": percentile(samples, 0.50),
        "p90": percentile(samples, 0.90),
        "p99": percentile(samples, 0.99),
        "max": max(samples),
        "mean": statistics.fmean(samples),
    }


def ms(samples_seconds: Sequence[float]) -> list[float]:
    return [s * 1000.0 for s in samples_seconds]


@dataclass
class Bar:
    """One acceptance bar: `measured` compared with `limit` by `op` ('<=' or '>=')."""

    name: str
    measured: float
    op: str
    limit: float
    unit: str

    @property
    def is_met(self) -> bool:
        return self.measured <= self.limit if self.op == "<=" else self.measured >= self.limit

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "is_met": self.is_met}


@dataclass
class Result:
    """What one benchmark measured: rows of summaries, bars, and free-form notes."""

    name: str
    unit: str = "ms"
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    bars: list[Bar] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, label: str, samples: Sequence[float]) -> dict[str, float]:
        self.rows[label] = summarize(samples)
        return self.rows[label]

    def bar(self, name: str, measured: float, op: str, limit: float, unit: str = "ms") -> None:
        self.bars.append(Bar(name, measured, op, limit, unit))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "rows": self.rows,
            "bars": [b.to_dict() for b in self.bars],
            "extra": self.extra,
            "notes": self.notes,
        }


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def print_result(result: Result) -> None:
    table = Table(title=f"{result.name} ({result.unit})", title_justify="left")
    columns = ("count", "p50", "p90", "p99", "min", "max")
    table.add_column("measurement")
    for column in columns:
        table.add_column(column, justify="right")
    for label, row in result.rows.items():
        table.add_row(label, *(_fmt(row.get(c)) if c != "count" else str(row.get(c, 0)) for c in columns))
    if result.rows:
        _console.print(table)
    else:
        _console.print(f"[bold]{result.name}[/bold]")
    for bar in result.bars:
        verdict = "[green]MET[/green]" if bar.is_met else "[red]NOT MET[/red]"
        _console.print(
            f"  bar {bar.name}: {_fmt(bar.measured)} {bar.unit} {bar.op} {_fmt(bar.limit)} {verdict}"
        )
    for key, value in result.extra.items():
        if not isinstance(value, dict | list):
            _console.print(f"  {key}: {_fmt(value) if isinstance(value, float) else value}")
    for note in result.notes:
        _console.print(f"  note: {note}")


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_1m": os.getloadavg()[0],
        "at": time.time(),
    }


def emit(results: Sequence[Result], json_path: Path | None) -> dict[str, Any]:
    """Print every table (stderr) and the JSON document (stdout, or `json_path`)."""
    for result in results:
        print_result(result)
    doc: dict[str, Any] = {"environment": environment(), "results": [r.to_dict() for r in results]}
    text = json.dumps(doc, indent=2, default=str)
    if json_path is None:
        sys.stdout.write(text + "\n")
    else:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n")
    return doc


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run in < 30 s")
    parser.add_argument("--json", type=Path, default=None, help="write the JSON here instead of stdout")
    return parser.parse_args(argv)


def counts(is_quick: bool, full: Mapping[str, int], quick: Mapping[str, int]) -> dict[str, int]:
    return dict(quick if is_quick else full)
