"""Connecting to Redis (plain or through Sentinel) with errors that say what to do."""

from __future__ import annotations

from typing import Any

import redis
from redis.exceptions import RedisClusterException

from producer_sdk.connection import (
    client_from_url,
    is_cluster_client,
    is_cluster_url,
    is_sentinel_url,
)
from worker.settings import Settings, mask_url

SOCKET_TIMEOUT_MARGIN_S = 5.0  # above the longest blocking read a consumer makes
POOL_WAIT_S = 30  # longest a request thread waits for a pooled connection


class RedisUnavailableError(Exception):
    """Redis could not be reached; the message is one line naming the (masked) URL."""


def connect(
    settings: Settings, *, timeout_s: float = 5.0, shared_by_threads: int | None = None
) -> redis.Redis:
    """A client for `settings.redis_url`, checked with PING.

    Its socket timeout stays above the consumers' blocking read (`MLMON_BLOCK_MS`), so a
    read waiting for new entries is never cut short, while a server that stops answering
    (a partition during a failover) is given up after a few seconds rather than never.

    shared_by_threads: for a server with a thread per request, the number of connections
    its threads share; a thread beyond them waits for one (redis-py's default pool raises
    "Too many connections" past 100 instead, failing requests under a burst).
    """
    read_timeout_s = settings.block_ms / 1000 + SOCKET_TIMEOUT_MARGIN_S
    return connect_url(
        settings.redis_url,
        timeout_s=timeout_s,
        read_timeout_s=read_timeout_s,
        shared_by_threads=shared_by_threads,
    )


def connect_url(
    url: str,
    *,
    timeout_s: float = 5.0,
    read_timeout_s: float | None = None,
    shared_by_threads: int | None = None,
) -> redis.Redis:
    options: dict[str, Any] = {
        "socket_connect_timeout": timeout_s,
        "socket_timeout": read_timeout_s,
        "socket_keepalive": True,
        "health_check_interval": 30,
    }
    try:
        if shared_by_threads is None or is_sentinel_url(url) or is_cluster_url(url):
            # Sentinel's pool follows the primary; it caps at `max_connections` without waiting
            limit = {} if shared_by_threads is None else {"max_connections": 4 * shared_by_threads}
            client = client_from_url(url, **options, **limit)
        else:
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=shared_by_threads, timeout=POOL_WAIT_S, **options
            )
            client = redis.Redis(connection_pool=pool)
        client.ping()
    except (redis.RedisError, RedisClusterException, ValueError, OSError) as e:
        where = "through the Sentinels of" if is_sentinel_url(url) else "at"
        raise RedisUnavailableError(
            f"cannot reach Redis {where} {mask_url(url)}: {e}. "
            "Start a Redis server or set REDIS_URL to one that runs."
        ) from e
    return client


def connect_rq(settings: Settings, client: redis.Redis | None = None) -> redis.Redis:
    """The Redis RQ keeps its queues on: `MLMON_RQ_REDIS_URL` when set (RQ cannot run on
    a Redis Cluster), else `client`, or the main Redis."""
    if settings.rq_redis_url is not None:
        return connect_url(settings.rq_redis_url)
    return client if client is not None else connect(settings)


def cluster_misdirection(client: redis.Redis, settings: Settings) -> str | None:
    """What is wrong when the settings do not fit a Redis Cluster (or a cluster URL does
    not fit the server), else None: through one node, every key of another node's slots
    answers MOVED, and without partitions one slot carries everything."""
    if is_cluster_client(client):
        if settings.partitions == 1:
            return (
                "redis: REDIS_URL is a Redis Cluster but MLMON_PARTITIONS is 1: every key "
                "would sit on one node; set MLMON_PARTITIONS to a few per master"
            )
        return None
    if int(client.info("cluster").get("cluster_enabled", 0)) != 1:
        return None
    return (
        f"redis: REDIS_URL ({settings.masked_redis_url()}) points at one node of a Redis "
        "Cluster; use redis+cluster://host:port[,host:port] and MLMON_PARTITIONS (a few per "
        "master)"
    )


def replica_of(client: redis.Redis) -> str | None:
    """`host:port` of the primary when `client` talks to a read-only replica, else None:
    mlmon writes on every command, so a replica is a configuration error to report."""
    if is_cluster_client(client):  # it sends every write to the slot's primary
        return None
    info = client.info("replication")
    if info.get("role") != "slave":
        return None
    return f"{info.get('master_host')}:{info.get('master_port')}"
