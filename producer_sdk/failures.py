"""Which publish failures are outages (spool and replay) and which are configuration
errors (raise at once, spool nothing)."""

from __future__ import annotations

import json

import redis
from redis.exceptions import RedisClusterException


class PublishError(Exception):
    """Redis did not take the event; the cause is chained."""


class ReplicationLagError(redis.RedisError):
    """The primary took the events but too few replicas confirmed them in time."""


# Redis unreachable, slow, loading, or a replica mid-failover: these pass; anything else
# (a wrong password, NOPERM, a wrong key type) is a configuration error to fix, not to wait out
OUTAGE_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    ReplicationLagError,  # replicas behind for a moment: replay later
)


# replies only a Redis Cluster gives: through a client of one node, a configuration error
MISDIRECTED_ERRORS = (
    redis.exceptions.AskError,  # MOVED too
    redis.exceptions.ClusterCrossSlotError,
    redis.exceptions.ClusterDownError,
)


# what a send may raise: redis-py's errors, and its cluster client's own exception (not a
# RedisError), raised when no node of the cluster can be reached
SEND_ERRORS = (redis.RedisError, RedisClusterException)


def raise_unless_outage(
    error: Exception, entries: list[tuple[str, str]], *, cluster: bool = False
) -> None:
    """Spooling is for outages only; a configuration error raises `PublishError` at once.
    A cluster client's CLUSTERDOWN (slots without a primary, mid-failover), or no node
    reachable, is an outage."""
    if cluster and isinstance(error, redis.exceptions.ClusterDownError | RedisClusterException):
        return
    if isinstance(error, MISDIRECTED_ERRORS):
        raise PublishError(
            f"could not publish {describe_entries(entries)}: {type(error).__name__}: {error}. The "
            "URL points at one node of a Redis Cluster: use redis+cluster://host:port"
            "[,host:port] and partitions= (the workers' MLMON_PARTITIONS); nothing was spooled"
        ) from error
    if isinstance(error, OUTAGE_ERRORS) and not isinstance(
        error, redis.exceptions.AuthenticationError
    ):
        return
    raise PublishError(
        f"could not publish {describe_entries(entries)}: {type(error).__name__}: {error} "
        "(a configuration error, not an outage: nothing was spooled)"
    ) from error


def describe_entries(entries: list[tuple[str, str]]) -> str:
    if len(entries) == 1:
        return f"{json.loads(entries[0][1])['type']} to {entries[0][0]}"
    return f"{len(entries)} events"
