"""Partitioned streams on a real 3-master Redis Cluster: the SDK routes by ticker, workers
consume all partitions or some, readers sum them, and a client of one node is refused."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from helpers import (
    MLMON,
    assert_exactly_once,
    csv_rows,
    expected_metrics,
    make_prediction,
    profit_outcomes,
    random_predictions,
    run_mlmon,
    status_json,
    wait_until,
)

from producer_sdk import Prediction, Publisher, PublishError
from producer_sdk.streams import partition_of
from worker.local.acl import acl_setuser_line, producer_acl_rules, worker_acl_rules
from worker.local.redis_server import ClusterOfServers
from worker.retraining.gate import committed_training_text, count_rows
from worker.settings import FIELD_OF_ENV, load_settings

PARTITIONS = 4


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterOfServers]:
    cluster = ClusterOfServers(tmp_path_factory.mktemp("cluster"), masters=3).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_env(
    env: dict[str, str], redis_cluster: ClusterOfServers, redis_url: str
) -> dict[str, str]:
    """The test's environment on the cluster, RQ on the session's standalone Redis."""
    return {
        **env,
        "REDIS_URL": redis_cluster.url,
        "MLMON_PARTITIONS": str(PARTITIONS),
        "MLMON_RQ_REDIS_URL": redis_url,
    }


def stream_keys_by_node(cluster: ClusterOfServers, prefix: str) -> list[set[str]]:
    """The prediction streams each master holds."""
    held = []
    for node in cluster.nodes:
        with redis.Redis(port=node.port) as client:
            match = f"{{{prefix}-p*}}:stream:predictions"
            held.append({key.decode() for key in client.scan_iter(match=match)})
    return held


def partition_of_prediction(prediction: Prediction) -> int:
    return partition_of(prediction.ticker, PARTITIONS)


def many_tickers(predictions: list[Prediction]) -> list[Prediction]:
    """The same predictions over 40 tickers (the helpers' five may miss a partition)."""
    return [p.model_copy(update={"ticker": f"T{i % 40}"}) for i, p in enumerate(predictions)]


def test_partitioned_streams_count_and_log_every_event_once(
    redis_cluster: ClusterOfServers, cluster_env: dict[str, str], prefix: str, home: Path
) -> None:
    predictions = many_tickers(random_predictions(2_000, seed=16))
    publisher = Publisher.from_url(
        redis_cluster.url,
        prefix=prefix,
        on_failure="raise",
        partitions=PARTITIONS,
        publish_timeout_s=2.0,
    )
    for start in range(0, len(predictions), 500):
        assert publisher.publish_many(predictions[start : start + 500]) is not None
    for prediction in predictions[:50]:  # one at a time too
        publisher.publish(prediction)  # a duplicate: counted once all the same

    held = stream_keys_by_node(redis_cluster, prefix)
    assert sum(len(keys) for keys in held) == PARTITIONS
    assert sum(1 for keys in held if keys) >= 2  # spread over the masters

    # a worker for two partitions takes theirs only
    some = run_mlmon("worker", "--burst", "--partitions", "0-1", env=cluster_env, timeout_s=120)
    assert some.returncode == 0, some.stderr
    first = [p for p in predictions if partition_of_prediction(p) in {0, 1}]
    assert 0 < len(first) < len(predictions)
    assert status_json(cluster_env)["total_predictions"] == len(first)
    logged = sorted(path.parent.name for path in (home / "logs" / "ml_predictions").glob("*/*"))
    assert set(logged) <= {"p0", "p1"}

    rest = run_mlmon("worker", "--burst", env=cluster_env, timeout_s=120)
    assert rest.returncode == 0, rest.stderr
    status = assert_exactly_once(home, cluster_env, predictions)
    assert status["total_predictions"] == len(predictions)
    assert status["dead_letters"] == 0
    by_group: dict[str, int] = {}
    for state in status["consumer_groups"]:
        by_group[state["group"]] = by_group.get(state["group"], 0) + 1
        assert state["pending"] == 0, state
    assert by_group["metrics"] == PARTITIONS  # one group per partition's stream
    per_partition = {
        path.parent.name for path in (home / "logs" / "ml_predictions").glob("*/*.jsonl")
    }
    assert per_partition == {f"p{i}" for i in range(PARTITIONS)}  # one writer each


def test_an_outcome_meets_its_prediction_in_the_same_partition() -> None:
    assert partition_of("RELIANCE", PARTITIONS) == zlib.crc32(b"RELIANCE") % PARTITIONS
    spread = {partition_of(f"T{i}", PARTITIONS) for i in range(100)}
    assert spread == set(range(PARTITIONS))


def test_a_client_of_one_cluster_node_is_a_configuration_error(
    redis_cluster: ClusterOfServers, cluster_env: dict[str, str], prefix: str, tmp_path: Path
) -> None:
    one_node = redis_cluster.nodes[0].url
    publisher = Publisher.from_url(
        one_node, prefix=prefix, partitions=PARTITIONS, spool_dir=tmp_path / "spool"
    )
    predictions = many_tickers(random_predictions(40, seed=3))  # some go to other nodes
    with pytest.raises(PublishError, match="redis\\+cluster://"):
        for prediction in predictions:
            publisher.publish(prediction)
    assert not publisher.spool.has_entries()  # a configuration error is never spooled

    health = run_mlmon("health", env={**cluster_env, "REDIS_URL": one_node})
    assert health.returncode == 1
    assert "points at one node of a Redis Cluster" in health.stdout
    assert "MLMON_PARTITIONS" in health.stdout

    for command in (["worker", "--burst"], ["status", "--json"]):
        refused = run_mlmon(*command, env={**cluster_env, "REDIS_URL": one_node})
        assert refused.returncode == 2, refused.stderr
        assert "points at one node of a Redis Cluster" in refused.stderr

    unpartitioned = run_mlmon("health", env={**cluster_env, "MLMON_PARTITIONS": "1"})
    assert unpartitioned.returncode == 1
    assert "MLMON_PARTITIONS is 1" in unpartitioned.stdout


def test_partition_ranges_are_checked(cluster_env: dict[str, str]) -> None:
    result = run_mlmon("worker", "--burst", "--partitions", "2-9", env=cluster_env)
    assert result.returncode == 2
    assert "outside 0-3 (MLMON_PARTITIONS=4)" in result.stderr


def test_least_privilege_users_work_on_every_partition(
    redis_cluster: ClusterOfServers, cluster_env: dict[str, str], prefix: str, home: Path
) -> None:
    """`mlmon acl` rules, set on every node (Cluster does not share ACLs): the producer
    publishes to every partition, the worker consumes them, neither reaches other keys."""
    rules = {
        "producer": producer_acl_rules(prefix, PARTITIONS),
        "worker": worker_acl_rules(prefix, partitions=PARTITIONS),
    }
    for node in redis_cluster.nodes:
        with redis.Redis(port=node.port) as admin:
            for user, user_rules in rules.items():
                admin.execute_command(*acl_setuser_line(user, f"{user}-pw", user_rules).split())
    hosts = redis_cluster.url.removeprefix("redis+cluster://")
    predictions = many_tickers(random_predictions(200, seed=5))
    publisher = Publisher.from_url(
        f"redis+cluster://producer:producer-pw@{hosts}",
        prefix=prefix,
        on_failure="raise",
        partitions=PARTITIONS,
        publish_timeout_s=2.0,
    )
    assert publisher.publish_many(predictions) is not None
    with pytest.raises(redis.exceptions.NoPermissionError):
        publisher.redis.set(f"{{{prefix}-p0}}:metrics:all", "1")
    worker_env = {**cluster_env, "REDIS_URL": f"redis+cluster://worker:worker-pw@{hosts}"}
    result = run_mlmon("worker", "--burst", env=worker_env, timeout_s=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_exactly_once(home, cluster_env, predictions)


def one_partition_per_master(cluster: ClusterOfServers, base: str, partitions: int) -> str:
    """A prefix (from `base`) whose partitions fall on different masters."""
    for attempt in itertools.count():
        prefix = f"{base}{attempt}"
        if len({cluster.node_index(f"{{{prefix}-p{i}}}") for i in range(partitions)}) == partitions:
            return prefix
    raise AssertionError("unreachable")


def counted_on_cluster(client: redis.Redis, prefix: str, partitions: int) -> int:
    return sum(
        int(client.hget(f"{{{prefix}-p{i}}}:metrics:all", "predictions") or 0)
        for i in range(partitions)
    )


@pytest.mark.slow
def test_three_partitions_on_three_masters_survive_a_sigkilled_worker(
    redis_cluster: ClusterOfServers, cluster_env: dict[str, str], prefix: str, home: Path
) -> None:
    partitions = 3
    prefix = one_partition_per_master(redis_cluster, prefix, partitions)
    env = {
        **cluster_env,
        "MLMON_PREFIX": prefix,
        "MLMON_PARTITIONS": str(partitions),
        "MLMON_BATCH_SIZE": "2000",
        "MLMON_CLAIM_IDLE_MS": "100",
    }
    predictions = many_tickers(random_predictions(30_000, seed=33))
    outcomes = profit_outcomes(predictions)
    publisher = Publisher.from_url(
        redis_cluster.url,
        prefix=prefix,
        on_failure="raise",
        partitions=partitions,
        publish_timeout_s=5.0,
    )
    for start in range(0, len(predictions), 2_000):
        publisher.publish_many(predictions[start : start + 2_000])
    publisher.publish_many(outcomes)
    held = stream_keys_by_node(redis_cluster, prefix)
    assert sorted(len(keys) for keys in held) == [1, 1, 1]  # each master one partition

    worker = subprocess.Popen(
        [MLMON, "worker", "--consumer", "c1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = publisher.redis
    wait_until(lambda: counted_on_cluster(client, prefix, partitions) >= 3_000, 60, poll_s=0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert counted_on_cluster(client, prefix, partitions) < len(predictions)

    result = run_mlmon("worker", "--burst", "--consumer", "c2", env=env, timeout_s=300)

    assert result.returncode == 0, result.stderr[-3000:]
    status = assert_exactly_once(home, env, predictions)  # takes c1's pending entries over
    expected = expected_metrics(predictions)
    assert status["avg_ml_confidence"] == pytest.approx(expected["avg_ml_confidence"], abs=1e-9)
    assert status["agreement_rate"] == pytest.approx(expected["agreement_rate"], abs=1e-9)
    assert status["feedback"]["total_outcomes"] == len(outcomes)
    assert status["feedback"]["joined_by_id"] == len(outcomes)  # met in its partition
    feedback_files = sorted((home / "data").glob("p*/ml_feedback.csv"))
    assert [path.parent.name for path in feedback_files] == ["p0", "p1", "p2"]  # one writer each
    feedback_ids = [row["outcome_id"] for path in feedback_files for row in csv_rows(path)]
    assert sorted(feedback_ids) == sorted(o.event_id for o in outcomes)
    training_files = sorted((home / "data").glob("p*/ml_training_data.csv"))
    labelled = sum(len(csv_rows(path)) for path in training_files)
    assert labelled > 0
    settings = load_settings(**{k: v for k, v in env.items() if k in FIELD_OF_ENV})
    assert count_rows(committed_training_text(client, settings)) == labelled  # all partitions
    for i in range(partitions):
        for group in ("logs", "metrics", "feedback"):
            stream = f"{{{prefix}-p{i}}}:stream:predictions"
            assert client.xpending(stream, group)["pending"] == 0


def test_dead_letters_of_every_partition_are_listed_counted_and_replayed(
    redis_cluster: ClusterOfServers, cluster_env: dict[str, str], prefix: str
) -> None:
    publisher = Publisher.from_url(
        redis_cluster.url, prefix=prefix, on_failure="raise", partitions=PARTITIONS
    )
    stream = f"{{{prefix}-p2}}:stream:predictions"
    bad_id = publisher.redis.xadd(stream, {"event": "{not json"}).decode()

    result = run_mlmon("worker", "--burst", "--groups", "metrics", env=cluster_env)

    assert result.returncode == 0, result.stderr[-3000:]
    assert status_json(cluster_env)["dead_letters"] == 1
    listed = run_mlmon("dlq", "list", "--json", "--stream", "predictions", env=cluster_env)
    [letter] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (letter["stream"], letter["entry_id"]) == (stream, bad_id)
    replayed = run_mlmon("dlq", "replay", "--all", env=cluster_env)
    assert replayed.returncode == 0, replayed.stderr
    assert f"on {stream}" in replayed.stdout
    assert publisher.redis.xlen(stream) == 2  # back on its own partition's stream


def test_health_is_ok_with_a_live_worker_on_every_partition(
    redis_cluster: ClusterOfServers, cluster_env: dict[str, str]
) -> None:
    worker = subprocess.Popen(
        [MLMON, "worker"], env=cluster_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: run_mlmon("health", env=cluster_env).returncode == 0, 60, poll_s=0.5)
        health = run_mlmon("health", env=cluster_env)
        assert health.stdout.startswith("ok: logs, metrics, feedback, retrain, alerts live")
        groups = status_json(cluster_env)["consumer_groups"]
        streams = {state["stream"] for state in groups if state["group"] == "metrics"}
        assert streams == {
            f"{{{cluster_env['MLMON_PREFIX']}-p{i}}}:stream:predictions" for i in range(PARTITIONS)
        }
        assert all(state["live_consumers"] for state in groups)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0


def test_the_sdk_spools_while_the_cluster_is_down_and_replays_after(tmp_path: Path) -> None:
    """A cluster client's "no node reachable" is an outage: spooled, never raised."""
    cluster = ClusterOfServers(tmp_path / "cluster").start()
    try:
        publisher = Publisher.from_url(
            cluster.url, prefix="down", partitions=3, spool_dir=tmp_path / "spool"
        )
        for node in cluster.nodes:
            node.kill()
        down = many_tickers(random_predictions(20, seed=7))
        assert [publisher.publish(p) for p in down] == [None] * len(down)
        assert publisher.spool.has_entries()
        for node in cluster.nodes:
            node.start()
        later: list[Prediction] = []

        def replayed() -> bool:
            later.append(make_prediction(ticker=f"X{len(later)}"))
            publisher.publish(later[-1])
            return not publisher.spool.has_entries()

        wait_until(replayed, 60, poll_s=0.5, what="the spool replayed")
        published = set()
        for index in range(3):
            entries = publisher.redis.xrange(f"{{down-p{index}}}:stream:predictions")
            published |= {json.loads(fields[b"event"])["event_id"] for _, fields in entries}
        assert published == {p.event_id for p in [*down, *later]}
    finally:
        cluster.stop()
