"""The status snapshot behind `mlmon status`: read from Redis only, in one round trip.

Its cost depends on the number of windows and buckets, never on the number of events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from producer_sdk.streams import StreamName
from worker.keys import Keys, hour_starts, minute_starts
from worker.metrics_schema import WINDOWS, add_counters, decode_counters, summarize
from worker.settings import Settings

NOT_AVAILABLE = {"available": False, "message": "not available yet"}
TOP_LEVEL_METRICS = (
    "total_predictions",
    "ml_usage_rate",
    "agreement_rate",
    "disagreement_rate",
    "avg_ml_confidence",
    "verdict_distribution",
    "confidence_histogram",
)


def build_status(
    client: redis.Redis, settings: Settings, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything `mlmon status` shows, as one JSON-ready dict."""
    now = now or datetime.now(UTC)
    keys = Keys(settings.prefix)
    bucket_keys = {
        "minute": [keys.metrics_minute(t) for t in minute_starts(now, _longest("minute"))],
        "hour": [keys.metrics_hour(t) for t in hour_starts(now, _longest("hour"))],
    }
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.metrics_all)
    for key_list in bucket_keys.values():
        for key in key_list:
            pipe.hgetall(key)
    pipe.lrange(keys.metrics_recent, 0, settings.recent_predictions - 1)
    pipe.xlen(keys.dead_stream)
    replies = pipe.execute()

    all_time = decode_counters(replies[0])
    position = 1
    buckets: dict[str, list[dict[str, int]]] = {}
    for granularity, key_list in bucket_keys.items():
        buckets[granularity] = [
            decode_counters(r) for r in replies[position : position + len(key_list)]
        ]
        position += len(key_list)
    recent_raw, dead_letters = replies[position], replies[position + 1]

    overall = summarize(all_time)
    windows = {
        name: summarize(add_counters(buckets[granularity][:count]))
        for name, (granularity, count) in WINDOWS.items()
    }
    return {
        "generated_at": now.isoformat(),
        "prefix": settings.prefix,
        **{name: overall[name] for name in TOP_LEVEL_METRICS},
        "windows": windows,
        "recent_predictions": [json.loads(line) for line in recent_raw],
        "dead_letters": dead_letters,
        "streams": {"predictions": keys.stream(StreamName.PREDICTIONS), "dead": keys.dead_stream},
        "retraining": dict(NOT_AVAILABLE),
        "drift": dict(NOT_AVAILABLE),
        "feedback": dict(NOT_AVAILABLE),
    }


def _longest(granularity: str) -> int:
    return max(count for g, count in WINDOWS.values() if g == granularity)
