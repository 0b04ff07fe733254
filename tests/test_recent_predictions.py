"""The recent-predictions list holds the newest new events, whatever duplicates a batch
carries: re-published events count once and never push new ones out of the list."""

from __future__ import annotations

import json
import uuid

import redis
from helpers import make_prediction, run_mlmon
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_of_hypothesis
from hypothesis import strategies as st

from producer_sdk import Prediction, Publisher
from producer_sdk.streams import StreamName
from worker.consumer.codec import Delivery
from worker.groups.metrics import MetricsHandler
from worker.keys import Keys
from worker.settings import Settings


def test_a_batch_ending_with_re_published_duplicates_keeps_its_new_events_in_the_list(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    burst_env = {**env, "MLMON_BATCH_SIZE": "200", "MLMON_RECENT_PREDICTIONS": "50"}
    old = [make_prediction(ticker=f"OLD{i}") for i in range(60)]
    publisher.publish_many(old)
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=burst_env).returncode == 0
    # one batch: 20 new events, then the 60 old ones published again
    new = [make_prediction(ticker=f"NEW{i}") for i in range(20)]
    publisher.publish_many([*new, *old])
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=burst_env).returncode == 0

    listed = [json.loads(line) for line in client.lrange(Keys.of(settings).metrics_recent, 0, -1)]
    assert len(listed) == 50
    # newest first: the 20 new events, then the newest 30 of the first 60, each once
    assert [e["event_id"] for e in listed[:20]] == [e.event_id for e in reversed(new)]
    assert [e["event_id"] for e in listed[20:]] == [e.event_id for e in reversed(old)][:30]
    all_time = client.hget(Keys.of(settings).metrics_all, "predictions")
    assert all_time is not None and int(all_time) == 80


@settings_of_hypothesis(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(st.one_of(st.just(None), st.integers(0, 40)), min_size=1, max_size=12),
        min_size=1,
        max_size=5,
    )
)
def test_the_list_is_the_newest_new_events_whatever_the_duplicates(
    client: redis.Redis, settings: Settings, batches: list[list[int | None]]
) -> None:
    """Each batch mixes new events (None) with events seen before (an index into those
    published so far, in this batch or an earlier one)."""
    small = settings.replace(
        prefix=f"{settings.prefix}p{uuid.uuid4().hex[:6]}", recent_predictions=5
    )
    handler = MetricsHandler(client, small)
    published: list[Prediction] = []
    applied: list[str] = []
    try:
        for number, plan in enumerate(batches):
            batch = []
            for pick in plan:
                if pick is None or not published:
                    event = make_prediction(ticker=f"T{len(published)}")
                    published.append(event)
                    applied.append(event.event_id)
                else:
                    event = published[pick % len(published)]
                batch.append(event)
            deliveries = [
                Delivery(entry_id=f"{number + 1}-{i}", event=e, deliveries=1)
                for i, e in enumerate(batch)
            ]
            handler.handle(StreamName.PREDICTIONS, deliveries)
        listed = client.lrange(Keys(small.prefix).metrics_recent, 0, -1)
        assert [json.loads(line)["event_id"] for line in listed] == applied[::-1][:5]
    finally:
        keys = list(client.scan_iter(match=f"{small.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
