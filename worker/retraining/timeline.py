"""The retraining timeline: model lifecycle events and every registry version.

The status snapshot carries only the latest run; the web dashboard draws the whole
history and the exporter counts versions per status, so both read it here, in one round
trip: the newest entries of `mlmon:stream:models` and the registry hashes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis

from producer_sdk.streams import StreamName
from worker.keys import Keys
from worker.settings import Settings

EVENT_LIMIT = 200  # newest lifecycle events returned; the stream itself keeps ~10 000
VERSION_FIELDS = ("version", "status", "trained_at", "promoted_at", "samples", "trigger")


def retraining_timeline(
    client: redis.Redis, settings: Settings, *, limit: int = EVENT_LIMIT
) -> dict[str, Any]:
    """Events oldest first, versions by number, and the live model's history."""
    keys = Keys.of(settings)
    pipe = client.pipeline(transaction=False)
    pipe.xrevrange(keys.stream(StreamName.MODELS), count=limit)
    pipe.hgetall(keys.model_registry(settings.model_name))
    pipe.hmget(keys.model_live(settings.model_name), ["version", "history"])
    raw_events, raw_registry, (live_raw, history_raw) = pipe.execute()
    history: list[dict[str, Any]] = [] if history_raw is None else json.loads(history_raw)
    return {
        "model": settings.model_name,
        "live_version": None if live_raw is None else int(live_raw),
        "events": [_event(entry_id, fields) for entry_id, fields in reversed(raw_events)],
        "versions": sorted(
            (_version(json.loads(value)) for value in raw_registry.values()),
            key=lambda entry: int(entry["version"]),
        ),
        "live_history": history,
        "last_promotion_at": last_promotion_at(history),
    }


def last_promotion_at(history: list[dict[str, Any]]) -> str | None:
    """When a trained model last became live (a rollback is not a promotion)."""
    promoted = [record["since"] for record in history if record.get("why") == "promoted"]
    return max(promoted, key=datetime.fromisoformat) if promoted else None


def _event(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    try:
        event: dict[str, Any] = json.loads(fields[b"event"])
    except (KeyError, ValueError):
        event = {"type": "unreadable"}
    return {"id": entry_id.decode(), **event}


def _version(entry: dict[str, Any]) -> dict[str, Any]:
    """The fields a timeline shows; metrics reduced to the ones a promotion is decided by."""
    metrics = entry.get("metrics") or {}
    return {
        **{name: entry.get(name) for name in VERSION_FIELDS},
        "macro_f1": metrics.get("macro_f1"),
        "accuracy": metrics.get("accuracy"),
    }
