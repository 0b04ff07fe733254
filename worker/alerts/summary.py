"""The alerts section of `mlmon status` and `mlmon alerts list`."""

from __future__ import annotations

import json
from typing import Any

import redis

from producer_sdk.streams import StreamName
from worker.alerts.configured import configured_channels
from worker.keys import Keys
from worker.settings import Settings


def recent_alerts(
    client: redis.Redis, settings: Settings, *, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest alerts, newest first, one row per alert (notifications flattened)."""
    entries: Any = client.xrevrange(Keys.of(settings).stream(StreamName.ALERTS), count=limit)
    rows = []
    for _, fields in entries:
        notification = json.loads(fields[b"event"])
        rows += [{"ts": notification["ts"], **alert} for alert in notification["alerts"]]
    return rows[:limit]


def alerts_summary(client: redis.Redis, settings: Settings) -> dict[str, Any]:
    return {
        "available": True,
        "recent": recent_alerts(client, settings, limit=10),
        "failed_deliveries": int(client.xlen(Keys.of(settings).alerts_failed)),
        "channels": ["stream", "log", *configured_channels(settings)],
    }
