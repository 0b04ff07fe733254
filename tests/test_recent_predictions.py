"""The recent-predictions list holds the newest new events, whatever duplicates a batch
carries: re-published events count once and never push new ones out of the list."""

from __future__ import annotations

import json

import redis
from helpers import make_prediction, run_mlmon

from producer_sdk import Publisher
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

    listed = [
        json.loads(line) for line in client.lrange(Keys(settings.prefix).metrics_recent, 0, -1)
    ]
    assert len(listed) == 50
    # newest first: the 20 new events, then the newest 30 of the first 60, each once
    assert [e["event_id"] for e in listed[:20]] == [e.event_id for e in reversed(new)]
    assert [e["event_id"] for e in listed[20:]] == [e.event_id for e in reversed(old)][:30]
    all_time = client.hget(Keys(settings.prefix).metrics_all, "predictions")
    assert all_time is not None and int(all_time) == 80
