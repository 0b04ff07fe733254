"""Which publish failures are outages (spool and replay) and which are configuration
errors (raise at once, spool nothing), and the errors the SDK raises."""

from __future__ import annotations

from collections.abc import Sequence

import redis

Entry = tuple[str, bytes]  # (stream key, event JSON)


class PublishError(Exception):
    """Redis did not take the events (or not all of them); the cause is chained.

    `entry_ids` has, per event of the call and in order, the stream entry id of each one
    Redis took and None for the others: publish those again (all of them, or the whole
    call: consumers drop a repeated event_id)."""

    def __init__(self, message: str, *, entry_ids: Sequence[str | None] = ()) -> None:
        super().__init__(message)
        self.entry_ids = list(entry_ids)


class ReplicationLagError(redis.RedisError):
    """The primary took the events but too few replicas confirmed them in time."""


class ReplicaCheckError(redis.RedisError):
    """The events are in, but WAIT or ROLE was refused (the user's rights, not an outage)."""


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


def is_outage(error: BaseException, *, cluster: bool = False) -> bool:
    """Whether `error` passes by itself (spool and replay), rather than needing a fix. A
    cluster client's CLUSTERDOWN (slots without a primary, mid-failover) is an outage."""
    if cluster and isinstance(error, redis.exceptions.ClusterDownError):
        return True
    return isinstance(error, OUTAGE_ERRORS) and not isinstance(
        error, redis.exceptions.AuthenticationError
    )


def configuration_message(batch: str, error: BaseException, *, spooled_in: str = "") -> str:
    """What to fix, for a failure that is not an outage (`batch` in a few words;
    `spooled_in`: the spool the events wait in, when they were spooled before it came)."""
    kept = (
        f"they wait in the spool {spooled_in}: fix it, then call flush_spool()"
        if spooled_in
        else "nothing was spooled"
    )
    if isinstance(error, MISDIRECTED_ERRORS):
        return (
            f"could not publish {batch}: {type(error).__name__}: {error}. "
            "The URL points at one node of a Redis Cluster: use redis+cluster://host:port"
            f"[,host:port] and partitions= (the workers' MLMON_PARTITIONS); {kept}"
        )
    return (
        f"could not publish {batch}: {type(error).__name__}: {error} "
        f"(a configuration error, not an outage: {kept})"
    )
