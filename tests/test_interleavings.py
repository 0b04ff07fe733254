"""Property: random interleavings of publish, duplicate, crash and restart never lose or
double-count an event, in the prediction log or in the metrics."""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import redis
from helpers import expected_metrics, jsonl_ids, log_files, random_predictions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producer_sdk import Prediction, Publisher
from worker.consumer.service import run_consumers
from worker.groups import build_consumers
from worker.settings import load_settings
from worker.status.snapshot import build_status

GROUPS = ["logs", "metrics"]
steps = st.lists(
    st.tuples(st.sampled_from(["publish", "duplicate", "crash", "restart"]), st.integers(1, 40)),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps)
def test_no_interleaving_loses_or_double_counts(
    redis_url: str, plan: list[tuple[str, int]]
) -> None:
    prefix, home = f"p{uuid.uuid4().hex[:10]}", Path(tempfile.mkdtemp())
    client = redis.Redis.from_url(redis_url)
    config = load_settings(
        REDIS_URL=redis_url, MLMON_PREFIX=prefix, MLMON_HOME=str(home), MLMON_BATCH_SIZE="7"
    )
    publisher = Publisher(client, prefix=prefix, on_failure="raise")
    stream = f"{prefix}:stream:predictions"
    published: list[Prediction] = []

    def restart() -> None:
        stop = threading.Event()
        consumers = build_consumers(config, GROUPS, consumer="c1", stop=stop)
        assert run_consumers(consumers, burst=True, stop=stop) == 0

    try:
        for number, (step, size) in enumerate(plan):
            if step == "publish":
                fresh = random_predictions(size, seed=number)
                publisher.publish_many(fresh)
                published += fresh
            elif step == "duplicate" and published:
                publisher.publish_many(published[-size:])
            elif step == "crash":  # c1 takes entries and dies before doing anything
                for group in GROUPS:
                    if not _has_group(client, stream, group):
                        client.xgroup_create(stream, group, id="0", mkstream=True)
                    client.xreadgroup(group, "c1", {stream: ">"}, count=size)
            else:
                restart()
        restart()

        jsonl_paths, _ = log_files(home)
        logged = [i for path in jsonl_paths for i in jsonl_ids(path)]
        assert sorted(logged) == sorted(p.event_id for p in published)
        status = build_status(client, config)
        assert status["total_predictions"] == len(published)
        if published:
            assert (
                status["verdict_distribution"]
                == expected_metrics(published)["verdict_distribution"]
            )
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        shutil.rmtree(home, ignore_errors=True)


def _has_group(client: redis.Redis, stream: str, group: str) -> bool:
    try:
        return any(g["name"].decode() == group for g in client.xinfo_groups(stream))
    except redis.ResponseError:
        return False
