"""The time buckets the counters are kept in, and the windows read from them.

A window is a whole number of buckets ending with the current one ("1h" is the 60 minute
buckets up to and including this minute), so a window spans between `count - 1` and
`count` bucket lengths: 59-60 minutes for 1h, 23-24 h for 24h, 167-168 h for 7d.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import redis

from worker.counters.metrics import add_counters, decode_counters
from worker.keys import Keys


class Granularity(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"


# window name -> (bucket granularity, number of buckets)
WINDOWS: dict[str, tuple[Granularity, int]] = {
    "1h": (Granularity.MINUTE, 60),
    "24h": (Granularity.HOUR, 24),
    "7d": (Granularity.HOUR, 168),
}
BUCKET_SECONDS = {Granularity.MINUTE: 60, Granularity.HOUR: 3600}
# how long a bucket is kept after it ends: a little more than the longest window reading it
MINUTE_BUCKET_TTL = timedelta(hours=1, minutes=5)
HOUR_BUCKET_TTL = timedelta(days=7, hours=1)


def minute_starts(now: datetime, count: int) -> list[datetime]:
    """Starts of the `count` minutes ending with the current one, newest first."""
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    return [current - timedelta(minutes=i) for i in range(count)]


def hour_starts(now: datetime, count: int) -> list[datetime]:
    """Starts of the `count` hours ending with the current one, newest first."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=i) for i in range(count)]


def bucket_starts(granularity: Granularity, now: datetime, count: int) -> list[datetime]:
    starts = minute_starts if granularity is Granularity.MINUTE else hour_starts
    return starts(now, count)


def bucket_key(keys: Keys, granularity: Granularity, start: datetime) -> str:
    if granularity is Granularity.MINUTE:
        return keys.metrics_minute(start)
    return keys.metrics_hour(start)


def window_bucket_keys(keys: Keys, window: str, now: datetime) -> list[str]:
    """The counter hashes of `window` ending now, newest first."""
    granularity, count = WINDOWS[window]
    return [bucket_key(keys, granularity, t) for t in bucket_starts(granularity, now, count)]


def longest_window_buckets(granularity: Granularity) -> int:
    return max(count for g, count in WINDOWS.values() if g is granularity)


def utc_days(now: datetime, count: int) -> list[str]:
    """The `count` UTC days ending today, newest first, as YYYY-MM-DD."""
    today = now.astimezone(UTC).date()
    return [(today - timedelta(days=i)).isoformat() for i in range(count)]


def window_span(window: str, now: datetime) -> dict[str, object]:
    """Exactly what `window` covers at `now`: from the start of its oldest bucket to now."""
    granularity, count = WINDOWS[window]
    start = bucket_starts(granularity, now, count)[-1]
    return {
        "from": start.isoformat(),
        "to": now.astimezone(UTC).isoformat(),
        "seconds": round((now - start).total_seconds()),
        "buckets": count,
        "bucket": granularity.value,
    }


def window_counters(
    client: redis.Redis, keys: Keys, window: str, *, now: datetime | None = None
) -> dict[str, int]:
    """The metrics counters of `window`, summed over its buckets."""
    pipe = client.pipeline(transaction=False)
    for key in window_bucket_keys(keys, window, now or datetime.now(UTC)):
        pipe.hgetall(key)
    return add_counters([decode_counters(raw) for raw in pipe.execute()])
