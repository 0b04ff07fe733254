"""Metrics over time for the dashboard's charts, read from the rolling bucket hashes.

The metrics group already keeps one counter hash per UTC minute (about 2 h) and per UTC
hour (8 days), so a series is one HGETALL per bucket: its cost depends on the window,
never on how many events came before. Each bucket is summarized with the same function
as `mlmon status`, so a chart and the status agree on what a rate means.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis

from worker.counters.metrics import add_counters, decode_counters, summarize
from worker.counters.windows import BUCKET_SECONDS, WINDOWS, bucket_key, bucket_starts
from worker.keys import Keys
from worker.settings import Settings

# metric name -> key of `summarize()`'s result
METRICS = {
    "predictions": "total_predictions",
    "ml_usage_rate": "ml_usage_rate",
    "agreement_rate": "agreement_rate",
    "avg_ml_confidence": "avg_ml_confidence",
    "verdicts": "verdict_distribution",
}


class BadParameterError(ValueError):
    """A query parameter the API does not accept; the message names what it accepts."""


def timeseries(
    client: redis.Redis,
    settings: Settings,
    *,
    metric: str,
    window: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One value per bucket of `window`, oldest first; a rate of an empty bucket is None."""
    if metric not in METRICS:
        raise BadParameterError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if window not in WINDOWS:
        raise BadParameterError(f"unknown window {window!r}; known: {', '.join(WINDOWS)}")
    now = now or datetime.now(UTC)
    parts = Keys.partitions_of(settings)  # each bucket summed over the partitions
    granularity, count = WINDOWS[window]
    starts = bucket_starts(granularity, now, count)
    pipe = client.pipeline(transaction=False)
    for start in reversed(starts):
        for keys in parts:
            pipe.hgetall(bucket_key(keys, granularity, start))
    replies = iter(pipe.execute())
    summaries = [
        summarize(add_counters([decode_counters(next(replies)) for _ in parts])) for _ in starts
    ]
    return {
        "metric": metric,
        "window": window,
        "bucket": granularity,
        "bucket_seconds": BUCKET_SECONDS[granularity],
        "generated_at": now.isoformat(),
        "points": [
            {
                "start": start.isoformat(),
                "start_s": int(start.timestamp()),
                "value": summary[METRICS[metric]],
            }
            for start, summary in zip(reversed(starts), summaries, strict=True)
        ],
    }
