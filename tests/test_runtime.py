"""The consumer loop's error boundaries, with a handler of the test's own on a real Redis."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import ClassVar

import redis
import structlog
from helpers import make_prediction, wait_until

from producer_sdk import Publisher, StreamName
from worker.consumer.codec import Delivery
from worker.consumer.handler import Rejected
from worker.consumer.runtime import GroupConsumer
from worker.consumer.service import run_consumers
from worker.settings import Settings


class CountingHandler:
    """Acknowledges what it gets; its upkeep always fails."""

    group: ClassVar[str] = "counting"
    streams: ClassVar[tuple[StreamName, ...]] = (StreamName.PREDICTIONS,)

    def __init__(self, client: redis.Redis, stream_key: str) -> None:
        self.client = client
        self.stream_key = stream_key
        self.seen: list[str] = []
        self.upkeep_calls = 0

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> list[Rejected]:
        self.seen += [d.event.event_id for d in deliveries]
        self.client.xack(self.stream_key, self.group, *[d.entry_id for d in deliveries])
        return []

    def periodic(self) -> None:
        self.upkeep_calls += 1
        raise RuntimeError("upkeep broke")


def test_failing_upkeep_is_logged_as_upkeep_and_never_fails_a_batch(
    client: redis.Redis, publisher: Publisher, settings: Settings, prefix: str
) -> None:
    stream_key = f"{prefix}:stream:predictions"
    handler = CountingHandler(client, stream_key)
    stop = threading.Event()
    consumer = GroupConsumer(
        handler, client, settings=settings.replace(block_ms=50), consumer="c1", stop=stop
    )
    events = [make_prediction(ticker=f"U{i}.NS") for i in range(30)]
    with structlog.testing.capture_logs() as logs:
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        for event in events:
            publisher.publish(event)
        wait_until(lambda: len(handler.seen) == len(events) and handler.upkeep_calls >= 3)
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert sorted(handler.seen) == sorted(e.event_id for e in events), "each event once"
    upkeep_failures = [e for e in logs if e["event"] == "upkeep task failed"]
    assert len(upkeep_failures) >= 3
    assert {e["task"] for e in upkeep_failures} == {"periodic"}
    assert not [e for e in logs if e["event"].startswith("batch failed")], "no batch failed"
    assert client.xpending(stream_key, "counting")["pending"] == 0


def test_run_consumers_gives_up_on_a_stuck_consumer_after_its_deadline(
    redis_url: str, settings: Settings, prefix: str
) -> None:
    """A thread that does not stop within the deadline is reported; the call returns 1."""
    entered, release = threading.Event(), threading.Event()

    class StuckHandler(CountingHandler):
        def periodic(self) -> None:
            entered.set()
            release.wait(30)  # stuck on I/O, say

    own_client = redis.Redis.from_url(redis_url)  # run_consumers closes it
    handler = StuckHandler(own_client, f"{prefix}:stream:predictions")
    stop = threading.Event()
    consumer = GroupConsumer(
        handler, own_client, settings=settings.replace(block_ms=50), consumer="c1", stop=stop
    )
    stopper = threading.Thread(target=lambda: entered.wait(30) and stop.set(), daemon=True)
    stopper.start()
    try:
        code = run_consumers([consumer], burst=False, stop=stop, stop_deadline_s=0.5)
    finally:
        release.set()
    assert entered.is_set() and stop.is_set()
    assert code == 1
