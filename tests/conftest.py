"""Fixtures: a real Redis server, a key prefix per test, the `mlmon` command.

The server is the one `TEST_REDIS_URL` names, else a `redis-server` the session starts on
a free port (the project's own embedded starter). Each test gets its own key prefix and
`MLMON_HOME`, and its keys are deleted afterwards: those under the prefix, and RQ's keys
of the prefix's queues (queues, jobs, workers), which RQ keeps outside the prefix.
"""

from __future__ import annotations

import os

# RQ's keys where the test helpers look for them (`rq:*`), in this process and in every
# `mlmon` child (which would otherwise put them under its prefix); set before rq is imported
os.environ.setdefault("RQ_KEY_PREFIX", "rq")

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from helpers import delete_rq_keys

from producer_sdk import Publisher
from worker.local.embedded_redis import start_embedded_redis
from worker.settings import Settings, load_settings


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    server = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    # today's layout and the partitioned one's hash tags (`{<prefix>}`, `{<prefix>-p<i>}`)
    keys = [
        key
        for pattern in (f"{name}:*", f"{{{name}}}:*", f"{{{name}-p*}}:*")
        for key in client.scan_iter(match=pattern, count=1000)
    ]
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    delete_rq_keys(client, name)
    client.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(redis_url: str, prefix: str, home: Path) -> dict[str, str]:
    """Environment for `mlmon` subprocesses of this test."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "MLMON_PREFIX": prefix,
        "MLMON_HOME": str(home),
        "MLMON_TIMEZONE": "Asia/Kolkata",
        "MLMON_BLOCK_MS": "100",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(
        REDIS_URL=env["REDIS_URL"],
        MLMON_PREFIX=env["MLMON_PREFIX"],
        MLMON_HOME=env["MLMON_HOME"],
        MLMON_TIMEZONE=env["MLMON_TIMEZONE"],
    )


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def publisher(client: redis.Redis, prefix: str) -> Publisher:
    return Publisher(client, prefix=prefix, on_failure="raise")
