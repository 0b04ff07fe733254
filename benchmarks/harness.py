"""What every benchmark section shares: the run's sizes, its state (`Bench`), the rows of
the results table, and the arithmetic of a measurement (percentiles, medians, floors).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
MLMON = Path(sys.executable).with_name("mlmon")


class BenchmarkError(Exception):
    """A measurement cannot be trusted: a worker failed, or lost or duplicated events."""


@dataclass(frozen=True)
class Sizes:
    """How much work each section does; `--quick` uses a smaller set."""

    publish_warmup: int = 2_000
    publish_calls: int = 20_000
    publish_many_events: int = 100_000
    consumer_events: int = 100_000
    rq_simple_jobs: int = 5_000
    rq_fork_jobs: int = 500
    ceiling_requests: int = 200_000
    status_small_events: int = 10
    status_big_events: int = 1_000_000
    status_repeats_in_process: int = 21
    storage_events: int = 10_000
    cli_events: int = 1_000
    cli_repeats: int = 9
    soak_s: float = 60.0
    cluster_events: int = 30_000


FULL = Sizes()
QUICK = Sizes(
    publish_warmup=200,
    publish_calls=2_000,
    publish_many_events=10_000,
    consumer_events=10_000,
    rq_simple_jobs=500,
    rq_fork_jobs=50,
    ceiling_requests=20_000,
    status_big_events=100_000,
    status_repeats_in_process=7,
    storage_events=2_000,
    cli_events=1_000,
    cli_repeats=5,
    soak_s=10.0,
    cluster_events=3_000,
)


@dataclass
class Row:
    """One line of the results table; `value` and `unit` keep the raw number for JSON."""

    section: int
    measurement: str
    result: str
    value: float | None = None
    unit: str = ""
    floor: str = ""
    passed: bool | None = None


@dataclass
class Bench:
    """What every section shares: the server, the key prefix, the scratch folder, results."""

    url: str
    client: redis.Redis
    prefix: str
    tmp: Path
    sizes: Sizes
    redis_pid: int | None = None
    started_s: float = field(default_factory=time.perf_counter)
    other_cpu_s: dict[str, float] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)

    def sub(self, name: str) -> str:
        """A key prefix of its own per data set, so sections never see each other's keys."""
        return f"{self.prefix}-{name}"

    def say(self, message: str) -> None:
        """Progress on stderr, so stdout holds only the table."""
        elapsed_s = time.perf_counter() - self.started_s
        print(f"[{elapsed_s:7.1f} s] {message}", file=sys.stderr, flush=True)

    def add(self, section: int, measurement: str, result: str, **extra: Any) -> None:
        self.rows.append(Row(section, measurement, result, **extra))


# ----------------------------------------------------------------- measurement helpers


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of `samples` (which it does not sort in place)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def time_each(call: Callable[[Any], object], items: Sequence[Any]) -> list[float]:
    """Milliseconds of each call, timed one by one."""
    times_ms = []
    for item in items:
        started = time.perf_counter_ns()
        call(item)
        times_ms.append((time.perf_counter_ns() - started) / 1e6)
    return times_ms


def median_ms(call: Callable[[], object], repeats: int) -> float:
    """Median of `repeats` timed calls, so one slow outlier (GC, a context switch) is ignored."""
    times_ms = time_each(lambda _: call(), range(repeats))
    return statistics.median(times_ms)


def floor_verdict(value: float | None, floor: float, *, at_most: bool) -> bool | None:
    """Pass (True) or miss (False) against a floor; None when the value was not measured."""
    if value is None:
        return None
    return value <= floor if at_most else value >= floor


def rate_text(per_s: float) -> str:
    """A rate as the table shows it: thousands separated, no decimals."""
    return f"{per_s:,.0f} /s"


def mib(size_bytes: float) -> str:
    """A size in MiB with one decimal, the unit RSS and stream sizes read best in."""
    return f"{size_bytes / 2**20:,.1f} MiB"
