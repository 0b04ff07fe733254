"""Connecting to Redis with errors that say what to do."""

from __future__ import annotations

import redis

from worker.settings import Settings, mask_url

POOL_WAIT_S = 30  # longest a request thread waits for a pooled connection


class RedisUnavailableError(Exception):
    """Redis could not be reached; the message is one line naming the (masked) URL."""


def connect(
    settings: Settings, *, timeout_s: float = 5.0, shared_by_threads: int | None = None
) -> redis.Redis:
    """A client for `settings.redis_url`, checked with PING.

    shared_by_threads: for a server with a thread per request, the number of connections
    its threads share; a thread beyond them waits for one (redis-py's default pool raises
    "Too many connections" past 100 instead, failing requests under a burst).
    """
    return connect_url(settings.redis_url, timeout_s=timeout_s, shared_by_threads=shared_by_threads)


def connect_url(
    url: str, *, timeout_s: float = 5.0, shared_by_threads: int | None = None
) -> redis.Redis:
    options = {
        "socket_connect_timeout": timeout_s,
        "socket_keepalive": True,
        "health_check_interval": 30,
    }
    try:
        if shared_by_threads is None:
            client = redis.Redis.from_url(url, **options)
        else:
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=shared_by_threads, timeout=POOL_WAIT_S, **options
            )
            client = redis.Redis(connection_pool=pool)
        client.ping()
    except (redis.RedisError, ValueError, OSError) as e:
        raise RedisUnavailableError(
            f"cannot reach Redis at {mask_url(url)}: {e}. "
            "Start a Redis server or set REDIS_URL to one that runs."
        ) from e
    return client
