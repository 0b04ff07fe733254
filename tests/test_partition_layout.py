"""Producers and workers set up with different partition counts: the events wait where no
group reads them, and `mlmon health` names the streams and the fix."""

from __future__ import annotations

import pytest
import redis
from helpers import make_prediction, run_mlmon

from producer_sdk import Prediction, Publisher


def over_many_tickers() -> list[Prediction]:
    """Forty tickers: every partition of a few gets some."""
    return [make_prediction(ticker=f"T{i}.NS") for i in range(40)]


@pytest.mark.parametrize(("producer_partitions", "worker_partitions"), [(2, 1), (1, 2), (3, 2)])
def test_health_names_the_streams_of_another_partition_layout(
    client: redis.Redis,
    env: dict[str, str],
    prefix: str,
    producer_partitions: int,
    worker_partitions: int,
) -> None:
    publisher = Publisher(client, prefix=prefix, partitions=producer_partitions)
    publisher.publish_many(over_many_tickers())
    worker_env = {**env, "MLMON_PARTITIONS": str(worker_partitions)}

    result = run_mlmon("health", "--groups", "logs", env=worker_env)

    assert result.returncode == 1
    assert "entries no group reads" in result.stdout
    assert f"MLMON_PARTITIONS={worker_partitions}" in result.stdout


def test_health_finds_no_stray_stream_when_the_layouts_agree(
    client: redis.Redis, env: dict[str, str], prefix: str
) -> None:
    Publisher(client, prefix=prefix, partitions=2).publish_many(over_many_tickers())

    result = run_mlmon("health", "--groups", "logs", env={**env, "MLMON_PARTITIONS": "2"})

    assert "entries no group reads" not in result.stdout
