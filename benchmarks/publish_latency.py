"""Section 1: the producer SDK, latency of one `publish()` and `publish_many()` throughput."""

from __future__ import annotations

import time

from benchmarks.harness import Bench, floor_verdict, percentile, rate_text, time_each
from benchmarks.traffic import Traffic
from benchmarks.worker_runs import delete_matching
from producer_sdk import Publisher, StreamName, stream_key

SECTION = 1
PUBLISH_P99_FLOOR_MS = 1.0
PUBLISH_MANY_FLOOR_PER_S = 100_000.0


def bench_publish(bench: Bench) -> None:
    """Latency of one publish() over loopback, and publish_many() throughput."""
    sizes = bench.sizes
    prefix = bench.sub("pub")
    publisher = Publisher.from_url(bench.url, prefix=prefix)
    traffic = Traffic(seed=1, feature_share=0.3)
    total = sizes.publish_warmup + sizes.publish_calls
    events = traffic.predictions(total)
    bench.say(f"publish: {sizes.publish_warmup:,} warm-up, then {sizes.publish_calls:,} timed")
    for event in events[: sizes.publish_warmup]:
        publisher.publish(event)
    latencies_ms = time_each(publisher.publish, events[sizes.publish_warmup :])
    _latency_rows(bench, "`publish()` of a pre-built prediction", latencies_ms, with_floor=True)

    fields = [traffic.fields(i, total) for i in range(sizes.publish_calls)]
    bench.say(f"publish: {sizes.publish_calls:,} log_prediction() calls (model built per call)")
    latencies_ms = time_each(lambda kwargs: publisher.log_prediction(**kwargs), fields)
    _latency_rows(bench, "`log_prediction()` (builds the model, then publishes)", latencies_ms)

    for batch in (100, 1_000):
        bench.client.unlink(stream_key(prefix, StreamName.PREDICTIONS))
        count = sizes.publish_many_events
        events = traffic.predictions(count)
        bench.say(f"publish: publish_many of {count:,} events in batches of {batch:,}")
        started = time.perf_counter()
        for start in range(0, count, batch):
            publisher.publish_many(events[start : start + batch])
        per_s = count / (time.perf_counter() - started)
        bench.add(
            SECTION,
            f"`publish_many()` throughput, batches of {batch:,} ({count:,} events)",
            rate_text(per_s),
            value=per_s,
            unit="events/s",
            floor=f">= {PUBLISH_MANY_FLOOR_PER_S:,.0f} /s",
            passed=floor_verdict(per_s, PUBLISH_MANY_FLOOR_PER_S, at_most=False),
        )
    delete_matching(bench.client, f"{prefix}:*")
    publisher.redis.close()


def _latency_rows(
    bench: Bench, what: str, latencies_ms: list[float], *, with_floor: bool = False
) -> None:
    """p50 for the typical call; p99 and p99.9 for what trading code has to budget for."""
    p50_ms, p99_ms, p999_ms = (percentile(latencies_ms, q) for q in (0.5, 0.99, 0.999))
    bench.add(
        SECTION,
        f"{what}: p50 / p99 / p99.9 ({len(latencies_ms):,} calls)",
        f"{p50_ms:.3f} / {p99_ms:.3f} / {p999_ms:.3f} ms",
        value=p99_ms,
        unit="ms (p99)",
        floor=f"p99 <= {PUBLISH_P99_FLOOR_MS:g} ms" if with_floor else "",
        passed=floor_verdict(p99_ms, PUBLISH_P99_FLOOR_MS, at_most=True) if with_floor else None,
    )
