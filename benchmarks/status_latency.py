"""Section 5: `build_status()` (what `mlmon status`, the web dashboard and the exporter
serve) with a few events behind it and with very many.

The whole `mlmon status --json` command, interpreter start and imports included, is timed
by the `cli` section (8) against a Python start-up anchor.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from benchmarks.harness import Bench, BenchmarkError, floor_verdict, median_ms, mib, rate_text
from benchmarks.storage_memory import memory_rows
from benchmarks.traffic import Traffic, publish_load
from benchmarks.worker_runs import WorkerRun, check_run, forget_data_set, run_workers, worker_env
from worker.settings import load_settings
from worker.status.snapshot import build_status

SECTION = 5
STATUS_FLOOR_MS = 300.0
BIG_LOAD = 100_000  # from this many events on, a load counts as large (floor, set-up rows)


def bench_status(bench: Bench) -> None:
    """`build_status()` with a few events behind it and with very many."""
    for count in (bench.sizes.status_small_events, bench.sizes.status_big_events):
        prefix, home = bench.sub(f"st{count}"), bench.tmp / f"home-st{count}"
        bench.say(f"status: publishing {count:,} predictions")
        traffic = Traffic(seed=4, feature_share=0.3, spread=timedelta(minutes=55))
        publish_s = publish_load(bench, prefix, count, traffic)
        consumers = 1 if count < BIG_LOAD else 2
        bench.say(f"status: draining with {consumers} `metrics` consumer(s)")
        run = run_workers(bench, worker_env(bench, prefix, home), "metrics", consumers)
        check_run(bench, prefix, home, "metrics", count)
        if count >= BIG_LOAD:
            _big_load_rows(bench, count, publish_s, consumers, run)
            memory_rows(bench, prefix, count, "metrics")
        _status_row(bench, prefix, home, count)
        forget_data_set(bench, prefix, home)


def _big_load_rows(
    bench: Bench, count: int, publish_s: float, consumers: int, run: WorkerRun
) -> None:
    """What building the large load cost: itself a publish and a consumer measurement."""
    bench.say(f"  drained in {run.wall_s:.1f} s")
    bench.add(
        SECTION,
        f"set-up: `publish_many()` of {count:,} (batches of 1,000, models built)",
        f"{publish_s:.1f} s ({rate_text(count / publish_s)})",
        value=count / publish_s,
        unit="events/s",
    )
    bench.add(
        SECTION,
        f"set-up: `metrics` group alone, {consumers} consumers, draining {count:,}",
        f"{run.wall_s:.1f} s ({rate_text(count / run.wall_s)}); peak RSS {mib(run.peak_rss_bytes)}",
        value=count / run.wall_s,
        unit="predictions/s",
    )


def _status_row(bench: Bench, prefix: str, home: Path, count: int) -> None:
    """Status in process (Redis reads and summing), first checked to show every event."""
    settings = load_settings(REDIS_URL=bench.url, MLMON_PREFIX=prefix, MLMON_HOME=str(home))
    shown = build_status(bench.client, settings)["total_predictions"]
    if shown != count:
        raise BenchmarkError(f"status shows {shown:,} predictions, not {count:,}")
    repeats = bench.sizes.status_repeats_in_process
    value_ms = median_ms(lambda: build_status(bench.client, settings), repeats)
    big = count >= BIG_LOAD
    bench.add(
        SECTION,
        f"status with {count:,} events: in process, `build_status()` (median of {repeats})",
        f"{value_ms:,.1f} ms",
        value=value_ms,
        unit="ms",
        floor=f"<= {STATUS_FLOOR_MS:g} ms" if big else "",
        passed=floor_verdict(value_ms, STATUS_FLOOR_MS, at_most=True) if big else None,
    )
