"""Connecting to Redis with errors that say what to do."""

from __future__ import annotations

import redis

from worker.settings import Settings, mask_url


class RedisUnavailableError(Exception):
    """Redis could not be reached; the message is one line naming the (masked) URL."""


def connect(settings: Settings, *, timeout_s: float = 5.0) -> redis.Redis:
    """A client for `settings.redis_url`, checked with PING."""
    return connect_url(settings.redis_url, timeout_s=timeout_s)


def connect_url(url: str, *, timeout_s: float = 5.0) -> redis.Redis:
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_keepalive=True,
            health_check_interval=30,
        )
        client.ping()
    except (redis.RedisError, ValueError, OSError) as e:
        raise RedisUnavailableError(
            f"cannot reach Redis at {mask_url(url)}: {e}. "
            "Start a Redis server or set REDIS_URL to one that runs."
        ) from e
    return client
