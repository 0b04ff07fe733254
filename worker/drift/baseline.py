"""The drift baseline: a stored snapshot of the metrics counters, not raw events.

Set by `mlmon baseline set [--window 24h]`, or automatically from the first
`ML_BASELINE_SAMPLES` predictions of a model version the baseline does not belong to yet
(a newly promoted model). Setting a baseline restarts the Page-Hinkley detector from the
baseline's mean confidence (`worker.drift.page_hinkley`), so it measures change from the
baseline, including a change that happened before the baseline was set.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from worker.counters.metrics import summarize
from worker.drift import page_hinkley
from worker.keys import Keys
from worker.settings import Settings


def set_baseline(
    client: redis.Redis,
    settings: Settings,
    counters: dict[str, int],
    *,
    model_version: str | None,
    source: str,
) -> dict[str, Any]:
    keys = Keys.of(settings)
    record = {
        "counters": counters,
        "model_version": model_version,
        "source": source,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # one atomic step in one Redis; with partitions (slots of a cluster), one per key
    pipe = client.pipeline(transaction=settings.partitions == 1)
    detector = page_hinkley.seed(
        summarize(counters)["avg_ml_confidence"], counters.get("ml_confidence_count", 0)
    )
    pipe.delete(keys.drift_baseline)
    for part in Keys.partitions_of(settings):  # every partition's detector restarts
        pipe.delete(part.drift_page_hinkley)
        pipe.hset(part.drift_page_hinkley, mapping={k: repr(v) for k, v in detector.items()})
    pipe.hset(
        keys.drift_baseline, mapping={name: json.dumps(value) for name, value in record.items()}
    )
    pipe.execute()
    return record


def get_baseline(client: redis.Redis, settings: Settings) -> dict[str, Any] | None:
    raw: dict[bytes, bytes] = client.hgetall(Keys.of(settings).drift_baseline)  # type: ignore[assignment]
    if not raw:
        return None
    return {name.decode(): json.loads(value) for name, value in raw.items()}


def baseline_version(client: redis.Redis, settings: Settings) -> str | None:
    raw = client.hget(Keys.of(settings).drift_baseline, "model_version")
    value: str | None = None if raw is None else json.loads(raw)
    return value
