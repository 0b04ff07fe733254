"""Idempotency marks held as set members: a busy second spills into its overflow sets, and
a re-published event is still counted and logged once, wherever its mark went."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from helpers import assert_exactly_once, make_prediction, run_mlmon

from producer_sdk import Publisher
from worker.consumer.marks import MAIN_CAP, OVERFLOWS, Marks
from worker.keys import Keys


def test_a_busy_second_spills_into_overflow_sets_and_replays_count_once(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    second = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    predictions = [
        make_prediction(ts=second + timedelta(microseconds=i)) for i in range(MAIN_CAP + 300)
    ]
    env = {**env, "MLMON_BATCH_SIZE": "200"}  # the spill happens across batches
    publisher.publish_many(predictions[:400])
    assert run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=env).returncode == 0
    publisher.publish_many(predictions)  # the first 400 again, as a producer retry would
    publisher.publish_many(predictions[::-1])  # and everything once more, newest first

    result = run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=env)

    assert result.returncode == 0, result.stderr
    assert_exactly_once(home, env, predictions)
    keys = Keys(prefix)
    for group in ("logs", "metrics"):
        main = keys.dedup_bucket(group, int(second.timestamp()))
        overflows = [keys.dedup_bucket(group, int(second.timestamp()), n) for n in range(OVERFLOWS)]
        assert client.scard(main) == MAIN_CAP
        assert sum(int(client.scard(key)) for key in overflows) == 300
        assert client.object("encoding", main) == b"intset"
        assert 0 < int(client.ttl(main)) <= 24 * 3600
    marks = Marks(keys, "metrics")
    assert all(marks.are_set(client, [marks.of(p.event_id, p.ts) for p in predictions]))
    unseen = make_prediction(ts=second)
    assert marks.are_set(client, [marks.of(unseen.event_id, unseen.ts)]) == [False]
