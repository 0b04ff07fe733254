"""Redis memory of the per-feature counters over a simulated week and a half: 64 features
at 10,000 predictions per hour.

A week of real traffic is 1.7 million predictions; this writes the same hash fields the
metrics group writes (`benchmarks.feature_streams.feature_counters`, equal to the
worker's `FeatureFields` bins, a test checks) for each simulated hour into its hour
bucket, the model version's hash and the all-time hash, plus the 66 minute buckets that
live at any time, and deletes each hour bucket when its TTL (`HOUR_BUCKET_TTL`) would
have expired it. MEMORY USAGE of those keys at the end of each simulated day is the
measurement: it grows for 7 days, while hour buckets accumulate, then stays flat.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks.feature_streams import FEATURE_COUNT, feature_counters
from benchmarks.harness import Bench, mib
from worker.counters.windows import HOUR_BUCKET_TTL, MINUTE_BUCKET_TTL
from worker.keys import Keys

SECTION = 6
PER_HOUR = 10_000
DAYS = 10
LIVE_HOURS = int(HOUR_BUCKET_TTL.total_seconds() // 3600)
LIVE_MINUTES = int(MINUTE_BUCKET_TTL.total_seconds() // 60) + 1


def _merge(total: dict[str, int], part: dict[str, int]) -> None:
    for name, count in part.items():
        total[name] = total.get(name, 0) + count


def _used_bytes(bench: Bench, keys: list[str]) -> int:
    pipe = bench.client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(size or 0) for size in pipe.execute())


def simulate(bench: Bench, prefix: str, days: int = DAYS) -> list[int]:
    """Bytes of the feature-bearing hashes at the end of each simulated day."""
    rng = np.random.default_rng(14)
    client = bench.client
    keys, start = Keys(prefix), datetime(2026, 1, 5, tzinfo=UTC)  # a simulated Monday
    version, all_time = keys.metrics_version("v1"), keys.metrics_all
    version_fields: dict[str, int] = {}
    live: list[str] = []
    per_minute = PER_HOUR // 60
    minutes = [keys.metrics_minute(start + timedelta(minutes=i)) for i in range(LIVE_MINUTES)]
    for key in minutes:
        client.hset(key, mapping=feature_counters(rng, per_minute))  # type: ignore[arg-type]
    sizes = []
    for hour in range(days * 24):
        counters = feature_counters(rng, PER_HOUR)
        key = keys.metrics_hour(start + timedelta(hours=hour))
        client.hset(key, mapping=counters)  # type: ignore[arg-type]
        live.append(key)
        if len(live) > LIVE_HOURS:
            client.delete(live.pop(0))  # its TTL has run out
        _merge(version_fields, counters)
        if hour % 24 == 23:
            client.hset(version, mapping=version_fields)  # type: ignore[arg-type]
            client.hset(all_time, mapping=version_fields)  # type: ignore[arg-type]
            sizes.append(_used_bytes(bench, [*live, *minutes, version, all_time]))
            bench.say(f"feature memory: day {hour // 24 + 1}: {mib(sizes[-1])}")
    client.delete(*live, *minutes, version, all_time)
    return sizes


def bench_feature_memory(bench: Bench) -> None:
    sizes = simulate(bench, bench.sub("featmem"))
    week, last = sizes[6], sizes[-1]
    bench.add(
        SECTION,
        f"Redis memory of metrics hashes with {FEATURE_COUNT} features at {PER_HOUR:,} "
        f"predictions/h, simulated: after day 1 / 7 / {len(sizes)}",
        f"{mib(sizes[0])} / {mib(week)} / {mib(last)} (day {len(sizes)} is "
        f"{last / week:.2f} x day 7)",
        value=last,
        unit="bytes",
    )
