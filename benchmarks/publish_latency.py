"""Section 1: the producer SDK, latency of one `publish()` and `publish_many()` throughput."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import redis

from benchmarks.harness import (
    Bench,
    BenchmarkError,
    floor_verdict,
    percentile,
    rate_text,
    time_each,
)
from benchmarks.redis_ceiling import benchmark_rps
from benchmarks.traffic import Traffic
from benchmarks.worker_runs import delete_matching
from producer_sdk import Prediction, Publisher, StreamName, stream_key

T = TypeVar("T")

SECTION = 1
PUBLISH_P99_FLOOR_MS = 1.0
PUBLISH_MANY_FLOOR_PER_S = 100_000.0
PUBLISH_MANY_FLOOR_RATIO = 2.0  # publish_many over a plain redis-py pipeline, same XADDs
RATIO_FLOOR_BATCH = 1_000
THROUGHPUT_ROUNDS = 50  # short rounds: a change of load falls on both about equally


def bench_publish(bench: Bench) -> None:
    """Latency of one publish() over loopback, and publish_many() throughput against a
    plain redis-py pipeline."""
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
        _throughput_rows(bench, publisher, traffic, prefix, batch)
    delete_matching(bench.client, f"{prefix}:*")
    publisher.redis.close()


def _throughput_rows(
    bench: Bench, publisher: Publisher, traffic: Traffic, prefix: str, batch: int
) -> None:
    """publish_many() against two anchors on the same client, in alternating rounds (a
    change in the machine's load falls on all three):

    - the plain redis-py pipeline an application would write to publish the same events,
      `pipe.xadd(stream, {"event": event.model_dump_json()})` (the floor's anchor: the
      issue measured this at 55,000-80,000 /s);
    - the same pipeline with the JSON made beforehand, so that only redis-py's pipeline is
      timed (the transport alone: a stricter comparison, reported beside it).
    """
    count = bench.sizes.publish_many_events
    stream = stream_key(prefix, StreamName.PREDICTIONS)
    events = traffic.predictions(count)
    payloads = [event.model_dump_json() for event in events]
    per_round = max(batch, count // THROUGHPUT_ROUNDS // batch * batch)
    bench.say(
        f"publish: publish_many and two plain pipelines, {count:,} events each in batches "
        f"of {batch:,}, alternating in rounds of {per_round:,}"
    )
    seconds = [0.0, 0.0, 0.0]  # publish_many, plain pipeline, transport only
    for round_number, start in enumerate(range(0, count, per_round)):
        part = slice(start, start + per_round)
        runs = [
            partial(_publish_many_s, publisher, events[part], batch),
            partial(_pipeline_s, publisher.redis, stream, events[part], batch),
            partial(_transport_s, publisher.redis, stream, payloads[part], batch),
        ]
        # ABC, CBA...: a fixed order would favour whichever goes last as a load rises
        order = [2, 1, 0] if round_number % 2 else [0, 1, 2]
        for which in order:
            seconds[which] += runs[which]()
        bench.client.unlink(stream)
    sdk_s, pipeline_s, transport_s = seconds
    sdk_per_s = count / sdk_s
    pipeline_per_s, transport_per_s = count / pipeline_s, count / transport_s
    what = f"batches of {batch:,} ({count:,} events)"
    bench.add(
        SECTION,
        "anchor: plain redis-py pipeline publishing the same events "
        f"(`pipe.xadd(stream, {{'event': e.model_dump_json()}})`), {what}",
        rate_text(pipeline_per_s),
        value=pipeline_per_s,
        unit="events/s",
    )
    bench.add(
        SECTION,
        f"anchor: the same pipeline with the JSON made beforehand (transport only), {what}",
        rate_text(transport_per_s),
        value=transport_per_s,
        unit="events/s",
    )
    bench.add(
        SECTION,
        f"`publish_many()` throughput, {what}",
        rate_text(sdk_per_s),
        value=sdk_per_s,
        unit="events/s",
        floor=f">= {PUBLISH_MANY_FLOOR_PER_S:,.0f} /s",
        passed=floor_verdict(sdk_per_s, PUBLISH_MANY_FLOOR_PER_S, at_most=False),
    )
    ratio = sdk_per_s / pipeline_per_s
    with_floor = batch == RATIO_FLOOR_BATCH
    bench.add(
        SECTION,
        f"`publish_many()` as a multiple of the plain pipeline, batches of {batch:,}",
        f"{ratio:.2f}x",
        value=ratio,
        unit="x",
        floor=f">= {PUBLISH_MANY_FLOOR_RATIO:g}x" if with_floor else "",
        passed=floor_verdict(ratio, PUBLISH_MANY_FLOOR_RATIO, at_most=False)
        if with_floor
        else None,
    )
    bench.add(
        SECTION,
        f"`publish_many()` as a multiple of the transport-only pipeline, batches of {batch:,}",
        f"{sdk_per_s / transport_per_s:.2f}x",
        value=sdk_per_s / transport_per_s,
        unit="x",
    )
    if with_floor:
        _one_connection_ceiling(bench, stream, payloads, batch, sdk_per_s)


def _one_connection_ceiling(
    bench: Bench, stream: str, payloads: list[str], batch: int, sdk_per_s: float
) -> None:
    """What Redis itself takes from one connection pipelining `batch` XADDs (redis-benchmark,
    no Python at all): the most any client could reach, so the room above the anchor."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        bench.add(SECTION, "one-connection XADD ceiling", "redis-benchmark not on the PATH")
        return
    payload = sorted(payloads, key=len)[len(payloads) // 2]  # an event of the median size
    requests = bench.sizes.publish_many_events
    command = [binary, "-u", bench.url, "-n", str(requests), "-c", "1", "-P", str(batch)]
    output = subprocess.run(
        [*command, "--csv", "XADD", stream, "*", "event", payload],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    bench.client.unlink(stream)
    per_s = benchmark_rps(output)
    bench.add(
        SECTION,
        f"ceiling: redis-benchmark XADD of a {len(payload)}-byte event, 1 connection, "
        f"-P {batch:,} ({requests:,} requests)",
        rate_text(per_s),
        value=per_s,
        unit="XADD/s",
    )
    bench.add(
        SECTION,
        f"`publish_many()`, batches of {batch:,}, as a share of that ceiling",
        f"{sdk_per_s / per_s:.0%}",
        value=sdk_per_s / per_s,
        unit="fraction",
    )


def _publish_many_s(publisher: Publisher, events: list[Prediction], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        if publisher.publish_many(events[start : start + batch]) is None:
            raise BenchmarkError("publish_many spooled events: Redis did not take them")
    return time.perf_counter() - started


def _pipeline_s(client: redis.Redis, stream: str, events: list[Prediction], batch: int) -> float:
    """The plain pipeline an application writes: each event's JSON made as it is queued."""
    return _timed_pipelines(client, stream, events, batch, lambda event: event.model_dump_json())


def _transport_s(client: redis.Redis, stream: str, payloads: list[str], batch: int) -> float:
    """The same pipeline with the JSON made beforehand: redis-py's transport alone."""
    return _timed_pipelines(client, stream, payloads, batch, str)


def _timed_pipelines(
    client: redis.Redis, stream: str, items: Sequence[T], batch: int, to_json: Callable[[T], str]
) -> float:
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        pipe = client.pipeline(transaction=False)
        for item in items[start : start + batch]:
            pipe.xadd(stream, {"event": to_json(item)})
        pipe.execute()
    return time.perf_counter() - started


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
