"""The predictions the feedback group keeps for joining outcomes, packed by day.

A key per prediction (its JSON, with a TTL) held about 450 B of Redis per prediction for
`ML_FEEDBACK_JOIN_DAYS`. Here each day (in `MLMON_TIMEZONE`) is one hash, event id ->
the prediction packed as a MessagePack array of its values, and one hash ticker ->
"<ts_ms> <event id>" of that ticker's latest prediction that day; both expire
`ML_FEEDBACK_JOIN_DAYS` after the end of their day. An outcome's `prediction_id` is looked
for in the hashes of its `prediction_date` and the day either side (a producer may give
the UTC date), so an id join needs that date right within a day.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import redis

from producer_sdk.events import Prediction
from producer_sdk.streams import StreamName
from producer_sdk.vocabulary import Verdict, VerdictSource
from worker.days import ZoneDays
from worker.keys import Keys
from worker.scripts import load_script
from worker.settings import Settings

DAY_S = 86_400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ID_JOIN_DAYS = (0, -1, 1)  # the outcome's prediction_date first, then its neighbours
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list[Any])


def pack(event: Prediction) -> bytes:
    """The values the join and the training rows need, in a fixed order."""
    return _ENCODER.encode(
        [
            (event.ts - EPOCH) // MICROSECOND,
            event.ticker,
            event.ml_verdict.value if event.ml_verdict else None,
            event.ml_confidence,
            event.rule_verdict.value,
            event.final_verdict.value,
            event.verdict_source.value,
            event.model_version,
            event.features,
        ]
    )


def unpack(event_id: str, packed: bytes) -> Prediction:
    """The prediction `pack` kept (validated when it was published, so not again)."""
    ts_us, ticker, ml, confidence, rule, final, source, version, features = _DECODER.decode(packed)
    return Prediction.model_construct(
        event_id=event_id,
        ts=EPOCH + ts_us * MICROSECOND,
        ticker=ticker,
        ml_verdict=Verdict(ml) if ml is not None else None,
        ml_confidence=confidence,
        rule_verdict=Verdict(rule),
        final_verdict=Verdict(final),
        verdict_source=VerdictSource(source),
        model_version=version,
        features=features,
    )


class FeedbackIndex:
    """Writes and reads the kept predictions of one deployment.

    :param client: a Redis client.
    :param settings: the prefix, the time zone of days and `ML_FEEDBACK_JOIN_DAYS`.
    :param group: the group whose entries `index` acknowledges.
    """

    def __init__(self, client: redis.Redis, settings: Settings, *, group: str) -> None:
        self.client = client
        self.settings = settings
        self.group = group
        self.keys = Keys.of(settings)
        self._script = load_script(client, "index_predictions")
        self._days = ZoneDays(settings.zone)

    def index(self, entry_ids: list[str], events: Sequence[Prediction]) -> None:
        """Keep `events` (those still young enough to be joined) and acknowledge the entries."""
        now_s = time.time()
        keep_s = self.settings.feedback_join_days * DAY_S
        days: dict[str, int] = {}
        items: list[Any] = []
        day_list: list[Any] = []
        day_of = self._days.of
        for event in events:
            ts_s = event.ts.timestamp()
            if ts_s + keep_s <= now_s:
                continue  # too old to be joined to anything
            day = day_of(event.ts)
            index = days.get(day)
            if index is None:
                end_s = _day_end_s(date.fromisoformat(day), self.settings)
                ttl_s = max(1, int(end_s + keep_s - now_s))
                day_list += [
                    self.keys.feedback_predictions(day),
                    self.keys.feedback_latest(day),
                    ttl_s,
                ]
                index = days[day] = len(days) + 1
            items += [index, event.event_id, pack(event), event.ticker, int(ts_s * 1000)]
        self._script(
            keys=[self.keys.stream(StreamName.PREDICTIONS)],
            args=[self.group, len(days), len(items) // 5, *day_list, *items, *entry_ids],
        )

    def by_ids(self, wanted: Sequence[tuple[str | None, date]]) -> list[Prediction | None]:
        """The kept prediction of each (id, prediction date), None where unknown or no id."""
        asked = [(i, event_id, day) for i, (event_id, day) in enumerate(wanted) if event_id]
        found: list[Prediction | None] = [None] * len(wanted)
        if not asked:
            return found
        pipe = self.client.pipeline(transaction=False)
        for _, event_id, day in asked:
            for shift in ID_JOIN_DAYS:
                key = self.keys.feedback_predictions((day + timedelta(days=shift)).isoformat())
                pipe.hget(key, event_id)
        replies = pipe.execute()
        for n, (i, event_id, _) in enumerate(asked):
            tries = replies[n * len(ID_JOIN_DAYS) : (n + 1) * len(ID_JOIN_DAYS)]
            packed = next((value for value in tries if value is not None), None)
            if packed is not None:
                found[i] = unpack(event_id, packed)
        return found

    def latest(self, wanted: Sequence[tuple[str, date]]) -> list[Prediction | None]:
        """The latest kept prediction of each (ticker, day), None where there is none."""
        pipe = self.client.pipeline(transaction=False)
        for ticker, day in wanted:
            pipe.hget(self.keys.feedback_latest(day.isoformat()), ticker)
        pointers = pipe.execute() if wanted else []
        ids = [
            (pointer.decode().split(" ", 1)[1] if pointer else None, day)
            for pointer, (_, day) in zip(pointers, wanted, strict=True)
        ]
        return self.by_ids(ids)


def _day_end_s(day: date, settings: Settings) -> float:
    start = datetime(day.year, day.month, day.day, tzinfo=settings.zone)
    return (start + timedelta(days=1)).timestamp()
