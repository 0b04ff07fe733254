"""Group `metrics`: rolling prediction metrics held in Redis.

Counters live in hashes: all-time, per UTC minute (read as the last hour) and per UTC hour
(read as the last 24 h and 7 d). Bucket hashes expire when no window needs them, so memory
does not grow with the number of events. A batch is one Lua call: for each event, its
idempotency mark and its counters in one atomic step, then the acknowledgement.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import redis

from producer_sdk.events import Prediction
from producer_sdk.streams import StreamName
from worker.codec import Delivery
from worker.keys import Keys
from worker.metrics_schema import (
    CONFIDENCE_BINS,
    HOUR_BUCKET_TTL,
    MINUTE_BUCKET_TTL,
    counter_fields,
)
from worker.scripts import load_script
from worker.settings import Settings

GROUP = "metrics"


class MetricsHandler:
    """Counts each prediction once into the all-time, minute and hour hashes."""

    group: ClassVar[str] = GROUP
    streams: ClassVar[tuple[StreamName, ...]] = (StreamName.PREDICTIONS,)

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self._apply = load_script(client, "apply_metrics")
        self._granularities = (
            (60, int(MINUTE_BUCKET_TTL.total_seconds()), self.keys.metrics_minute),
            (3600, int(HOUR_BUCKET_TTL.total_seconds()), self.keys.metrics_hour),
        )
        self._key_memo: dict[tuple[int, int], str] = {}  # formatting keys per event is slow

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> None:
        now_s = int(time.time())
        hashes: list[list[Any]] = [[self.keys.metrics_all, 0]]
        hash_index: dict[str, int] = {}
        recent_from = len(deliveries) - self.settings.recent_predictions
        events = []
        for position, delivery in enumerate(deliveries):
            event = delivery.event
            assert isinstance(event, Prediction)  # the predictions stream carries only these
            indices = [1]  # Lua tables count from 1; 1 is the all-time hash
            for key, ttl_s in self._bucket_keys(int(event.ts.timestamp()), now_s):
                if key not in hash_index:
                    hashes.append([key, ttl_s])
                    hash_index[key] = len(hashes)
                indices.append(hash_index[key])
            item: dict[str, Any] = {"id": event.event_id, "h": indices, "f": counter_fields(event)}
            if event.ml_confidence is not None:
                item["c"] = round(event.ml_confidence * 1_000_000)
            if position >= recent_from:  # older ones would be trimmed off the list at once
                item["r"] = recent_line(event)
            events.append(item)
        payload = {"ids": [d.entry_id for d in deliveries], "hashes": hashes, "events": events}
        self._apply(
            keys=[self.keys.stream(stream), self.keys.metrics_recent],
            args=[
                self.group,
                self.keys.dedup_prefix(self.group),
                self.settings.dedup_ttl_s,
                self.settings.recent_predictions,
                json.dumps(payload, separators=(",", ":")),
            ],
        )

    def _bucket_keys(self, ts_s: int, now_s: int) -> list[tuple[str, int]]:
        """The minute and hour buckets of `ts_s` still inside a window, with their TTLs."""
        buckets = []
        for length_s, keep_s, key_of in self._granularities:
            start_s = ts_s - ts_s % length_s
            ttl_s = start_s + length_s + keep_s - now_s
            if ttl_s <= 0:
                continue
            key = self._key_memo.get((length_s, start_s))
            if key is None:
                if len(self._key_memo) > 10_000:
                    self._key_memo.clear()
                key = key_of(datetime.fromtimestamp(start_s, UTC))
                self._key_memo[(length_s, start_s)] = key
            buckets.append((key, ttl_s))
        return buckets


def recent_line(event: Prediction) -> str:
    """What `mlmon status` shows of one recent prediction."""
    return json.dumps(
        {
            "event_id": event.event_id,
            "ts": event.ts.isoformat(),
            "ticker": event.ticker,
            "ml_verdict": event.ml_verdict.value if event.ml_verdict else None,
            "ml_confidence": event.ml_confidence,
            "rule_verdict": event.rule_verdict.value,
            "final_verdict": event.final_verdict.value,
            "verdict_source": event.verdict_source.value,
            "agreement": event.agrees,
        },
        separators=(",", ":"),
    )


__all__ = ["CONFIDENCE_BINS", "GROUP", "MetricsHandler", "recent_line"]
