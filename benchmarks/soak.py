"""Section 9: a soak at a steady live rate through `mlmon worker` (every group, its default
process per group): what Redis holds per prediction beyond the stream entry, how far the
worker lags, and its memory."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import MLMON, Bench, BenchmarkError, floor_verdict, mib
from benchmarks.redis_cost import family_bytes
from benchmarks.traffic import Traffic
from benchmarks.worker_runs import (
    EVERY_GROUP,
    PREDICTION_GROUPS,
    check_run,
    forget_data_set,
    worker_env,
)
from producer_sdk import Prediction, Publisher, StreamName, stream_key
from worker.keys import Keys
from worker.redis_values import as_text

SECTION = 9
RATE_PER_S = 1_000
TICK_S = 0.1
BEYOND_STREAM_FLOOR_BYTES = 300.0
DRAIN_TIMEOUT_S = 120.0


def bench_soak(bench: Bench) -> None:
    """Publish RATE_PER_S predictions a second, stamped now, to a running worker."""
    duration_s = bench.sizes.soak_s
    prefix, home = bench.sub("soak"), bench.tmp / "home-soak"
    env = worker_env(bench, prefix, home)
    stream = stream_key(prefix, StreamName.PREDICTIONS)
    log_path = bench.tmp / "soak-worker.log"
    with log_path.open("wb") as stderr:
        worker = subprocess.Popen(
            [str(MLMON), "worker", "--consumer", "soak"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        _wait_for(lambda: _groups_ready(bench, stream), "the worker's groups", 30.0)
        before_bytes = int(bench.client.info("memory")["used_memory"])
        bench.say(f"soak: {RATE_PER_S:,} predictions/s for {duration_s:.0f} s, every group")
        published, max_lag = _publish_steadily(bench, prefix, duration_s)
        _wait_for(lambda: _counted(bench, prefix) >= published, "the worker", DRAIN_TIMEOUT_S)
        _wait_for(lambda: _all_acknowledged(bench, stream), "acknowledgements", 30.0)
        rss_bytes = _tree_rss_bytes(worker.pid)
        after_bytes = int(bench.client.info("memory")["used_memory"])
        stream_bytes = int(bench.client.memory_usage(stream, samples=0) or 0)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    if worker.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2_000:]
        raise BenchmarkError(f"soak worker exited {worker.returncode}:\n{tail}")
    check_run(bench, prefix, home, EVERY_GROUP, published)
    _rows(bench, published, duration_s, max_lag, after_bytes - before_bytes, stream_bytes)
    _family_rows(bench, prefix, published)
    bench.add(
        SECTION,
        f"worker RSS after the soak, every group (all its processes), {published:,} events",
        mib(rss_bytes),
        value=rss_bytes,
        unit="bytes",
    )
    forget_data_set(bench, prefix, home)


def _rows(
    bench: Bench, published: int, duration_s: float, max_lag: int, grown: int, stream: int
) -> None:
    beyond = (grown - stream) / published
    bench.add(
        SECTION,
        f"soak: {published:,} predictions at {RATE_PER_S:,}/s over {duration_s:.0f} s, "
        "every event counted and logged once; largest lag seen (events)",
        f"{max_lag:,}",
        value=max_lag,
        unit="events",
    )
    bench.add(
        SECTION,
        "soak: Redis memory per prediction, stream entry included (used_memory delta)",
        f"{grown / published:,.0f} B",
        value=grown / published,
        unit="bytes",
    )
    bench.add(
        SECTION,
        "soak: Redis memory per prediction beyond the stream entry (marks, feedback index, "
        "counters)",
        f"{beyond:,.0f} B",
        value=beyond,
        unit="bytes",
        floor=f"<= {BEYOND_STREAM_FLOOR_BYTES:g} B",
        passed=floor_verdict(beyond, BEYOND_STREAM_FLOOR_BYTES, at_most=True),
    )


def _family_rows(bench: Bench, prefix: str, published: int) -> None:
    """What the marks and the feedback index hold per prediction, and for how long."""
    for family, what, kept in (
        ("dedup", "idempotency marks (every group)", "MLMON_DEDUP_TTL_HOURS, default 24 h"),
        ("feedback", "feedback index", "ML_FEEDBACK_JOIN_DAYS, default 90 days"),
    ):
        per_event = family_bytes(bench.client, prefix, family) / published
        bench.add(
            SECTION,
            f"soak: Redis memory of the {what} per prediction (kept {kept})",
            f"{per_event:,.1f} B",
            value=per_event,
            unit="bytes",
        )


def _publish_steadily(bench: Bench, prefix: str, duration_s: float) -> tuple[int, int]:
    """Publish a tick's worth every TICK_S; the count and the largest lag sampled."""
    publisher = Publisher(bench.client, prefix=prefix)
    pool = Traffic(seed=9, feature_share=0.0).pool
    per_tick = int(RATE_PER_S * TICK_S)
    started = time.monotonic()
    published = max_lag = 0
    ticks = int(duration_s / TICK_S)
    for tick in range(ticks):
        now = datetime.now(UTC)
        batch = [
            Prediction(**{**pool[(published + i) % len(pool)], "ts": now}) for i in range(per_tick)
        ]
        publisher.publish_many(batch)
        published += per_tick
        if tick % 10 == 0:
            max_lag = max(max_lag, published - _counted(bench, prefix))
        pause_s = started + (tick + 1) * TICK_S - time.monotonic()
        if pause_s > 0:
            time.sleep(pause_s)  # pacing the publisher, not synchronising with the worker
    return published, max_lag


def _counted(bench: Bench, prefix: str) -> int:
    return int(bench.client.hget(Keys(prefix).metrics_all, "predictions") or 0)


def _groups_ready(bench: Bench, stream: str) -> bool:
    if not bench.client.exists(stream):
        return False
    names = {as_text(g["name"]) for g in bench.client.xinfo_groups(stream)}
    return set(PREDICTION_GROUPS) <= names


def _all_acknowledged(bench: Bench, stream: str) -> bool:
    groups = bench.client.xinfo_groups(stream)
    return all(g["pending"] == 0 and g.get("lag", 0) == 0 for g in groups)


def _wait_for(ready: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"soak: timed out waiting for {what}")
        time.sleep(0.05)


def _tree_rss_bytes(pid: int) -> int:
    """VmRSS of a process and its children, added."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_tree_rss_bytes(int(child)) for child in children)
