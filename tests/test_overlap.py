"""The metrics group's commit runs while the next batch is prepared, and batches summed
before Lua: every event still counts once, through duplicates, failed commits and stops."""

from __future__ import annotations

import threading

import pytest
import redis
from helpers import make_prediction

from producer_sdk import Publisher, StreamName
from worker.consumer.codec import Delivery
from worker.consumer.runtime import GroupConsumer
from worker.groups import metrics
from worker.groups.metrics import MetricsHandler
from worker.keys import Keys
from worker.settings import Settings


def _counted(client: redis.Redis, settings: Settings) -> int:
    return int(client.hget(Keys.of(settings).metrics_all, "predictions") or 0)


def _burst(client: redis.Redis, settings: Settings) -> GroupConsumer:
    consumer = GroupConsumer(
        MetricsHandler(client, settings),
        client,
        settings=settings.replace(batch_size=7),
        consumer="c1",
        stop=threading.Event(),
    )
    consumer.run(burst=True)
    return consumer


def _fail_once(
    monkeypatch: pytest.MonkeyPatch, method: str, *, call: int, error: Exception
) -> None:
    """Make the metrics commit's `method` raise `error` on its `call`-th call only."""
    original = getattr(metrics._MetricsCommit, method)
    calls = {"n": 0}

    def failing(self: metrics._MetricsCommit) -> object:
        calls["n"] += 1
        if calls["n"] == call:
            raise error
        return original(self)

    monkeypatch.setattr(metrics._MetricsCommit, method, failing)


def test_a_batch_with_events_already_counted_counts_only_the_new_ones(
    client: redis.Redis, settings: Settings
) -> None:
    handler = MetricsHandler(client, settings)
    old = [make_prediction(ticker=f"OLD{i}.NS", features={"a": float(i)}) for i in range(5)]
    new = [make_prediction(ticker=f"NEW{i}.NS", features={"a": float(i)}) for i in range(4)]
    client.xgroup_create(Keys.of(settings).stream(StreamName.PREDICTIONS), "metrics", mkstream=True)
    handler.handle(StreamName.PREDICTIONS, [Delivery(f"1-{i}", e, 1) for i, e in enumerate(old)])
    mixed = [*old[:3], new[0], new[0], *new[1:], old[4]]  # a copy within the batch too
    commit = handler.prepare(
        StreamName.PREDICTIONS, [Delivery(f"2-{i}", e, 1) for i, e in enumerate(mixed)]
    )
    commit.start()
    assert commit.finish() == []
    assert _counted(client, settings) == 9
    hour = client.hgetall(Keys.of(settings).metrics_hour(new[0].ts))
    assert int(hour[b"featured"]) == 9
    assert b"featured" not in client.hgetall(Keys.of(settings).metrics_all)


def test_a_failing_commit_is_retried_entry_by_entry_and_counts_each_event_once(
    client: redis.Redis, publisher: Publisher, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [make_prediction(ticker=f"F{i}.NS") for i in range(30)]
    publisher.publish_many(events)
    _fail_once(monkeypatch, "finish", call=2, error=ValueError("a handler bug"))
    consumer = _burst(client, settings)
    assert _counted(client, settings) == 30
    assert consumer.stats.processed == 30
    stream = Keys.of(settings).stream(StreamName.PREDICTIONS)
    assert client.xpending(stream, "metrics")["pending"] == 0


def test_an_environment_fault_in_a_commit_leaves_its_entries_pending_for_the_next_run(
    client: redis.Redis, publisher: Publisher, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [make_prediction(ticker=f"E{i}.NS") for i in range(30)]
    publisher.publish_many(events)
    start = metrics._MetricsCommit.start
    _fail_once(monkeypatch, "start", call=3, error=redis.ConnectionError("Redis went away"))
    with pytest.raises(redis.ConnectionError):
        _burst(client, settings)
    stream = Keys.of(settings).stream(StreamName.PREDICTIONS)
    assert client.xpending(stream, "metrics")["pending"] > 0
    assert _counted(client, settings) < 30
    monkeypatch.setattr(metrics._MetricsCommit, "start", start)
    _burst(client, settings)
    assert _counted(client, settings) == 30
    assert client.xpending(stream, "metrics")["pending"] == 0
