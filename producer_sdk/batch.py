"""One batch of events on the wire: its XADDs (then WAIT and ROLE when replicas must
confirm) in one round trip, and what became of each event.

A batch can fail part way: an error reply for some XADDs (the others still run), or a
connection that drops after some replies came back. Events whose XADD replied with an
entry id are published; every event from the first one without an id on must be sent
again (`BatchResult.resend_from`). That may send again an event that got in after it: harmless,
since consumers drop a repeated `event_id`; leaving out one that did not get in would lose it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import RedisClusterException

from producer_sdk.failures import (
    Entry,
    ReplicaCheckError,
    ReplicationLagError,
    is_outage,
)
from producer_sdk.outgoing import Outgoing
from producer_sdk.resp import XaddPacker, round_trip


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What became of the events of one batch.

    :param entry_ids: per event, in order, its stream entry id if Redis took it, else None.
    :param error: why the batch is not wholly published; None when it is. A configuration
        error (see `is_outage`) wins over an outage when there were both.
    :param resend_from: events from this index on must be sent again (0 when the replicas
        did not confirm: every event of the batch is then at risk).
    """

    entry_ids: list[str | None]
    error: redis.RedisError | None = None
    resend_from: int = 0


class BatchSender:
    """Sends batches of XADDs on `client`'s pool, waiting for replicas as asked.

    :param client: the Redis client (plain, through Sentinel, or a cluster client: its
        XADDs go through redis-py's cluster pipeline, which sends each node its own).
    :param replicas_to_ack: replicas that must confirm each batch (`WAIT`); 0 waits for none.
    :param replica_ack_timeout_ms: how long WAIT waits for them.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        replicas_to_ack: int,
        replica_ack_timeout_ms: int,
        cluster: bool = False,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.replicas_to_ack = replicas_to_ack
        self.replica_ack_timeout_ms = replica_ack_timeout_ms
        self.replicas_seen = replicas_to_ack  # replicas WAIT asks for (from the last ROLE)
        self._packer = XaddPacker()

    def send(self, batch: Outgoing) -> BatchResult:
        """XADD every entry in one round trip; never raises a Redis error (see BatchResult).

        An event that cannot be serialised ends the batch before it (`batch.failure`):
        only the XADDs before it are sent, and the replicas checked for those."""
        count = len(batch)
        if self.cluster:
            if not batch.make_all():
                return BatchResult([None] * count)
            return self._send_to_cluster(batch.entries())
        wanted = min(self.replicas_to_ack, self.replicas_seen)
        checks: list[tuple[str | int, ...]] = []
        if wanted:
            checks.append(("WAIT", wanted, self.replica_ack_timeout_ms))
        if self.replicas_to_ack:
            checks.append(("ROLE",))
        payload = self._packer.pack(batch.streamed(), checks)
        replies = round_trip(self.client, payload, lambda: batch.made + len(checks))
        sent = batch.made
        added = replies.values[:sent]
        if replies.failure is not None or (
            replies.errors and not all(isinstance(reply, str) for reply in added)
        ):
            return self._partly(added, count, replies.failure, sent=sent)
        entry_ids: list[str | None] = added + [None] * (count - sent)
        if self.replicas_to_ack:
            error = self._check_replicas(wanted=wanted, replies=replies.values[sent:])
            if error is not None:  # all are in the primary; only a lag puts them at risk
                at_risk = isinstance(error, ReplicationLagError)
                return BatchResult(entry_ids, error, resend_from=0 if at_risk else sent)
        return BatchResult(entry_ids)

    def _send_to_cluster(self, entries: Sequence[Entry]) -> BatchResult:
        """The XADDs through the cluster client's pipeline (a node's slots move, so the
        client routes); "no node reachable" is an outage like a refused connection."""
        pipe = self.client.pipeline(transaction=False)
        for stream, payload in entries:
            pipe.execute_command("XADD", stream, "*", "event", payload)  # type: ignore[no-untyped-call]
        try:
            replies = pipe.execute(raise_on_error=False)
        except RedisClusterException as e:
            return self._partly([], len(entries), redis.ConnectionError(str(e)))
        except redis.RedisError as e:
            return self._partly([], len(entries), e)
        added = [r.decode() if isinstance(r, bytes) else r for r in replies]
        if all(isinstance(reply, str) for reply in added):
            return BatchResult(added)
        return self._partly(added, len(entries), None)

    def _partly(
        self,
        added: list[Any],
        count: int,
        failure: redis.RedisError | None,
        *,
        sent: int | None = None,
    ) -> BatchResult:
        """The result of a batch with error replies to XADDs or a failed connection
        (`sent` of its `count` XADDs sent: fewer when an event could not be serialised)."""
        entry_ids: list[str | None] = [r if isinstance(r, str) else None for r in added]
        entry_ids += [None] * (count - len(entry_ids))
        errors = [reply for reply in added if isinstance(reply, redis.RedisError)]
        errors += [failure] if failure is not None else []
        first = next((e for e in errors if not is_outage(e, cluster=self.cluster)), errors[0])
        # every XADD sent in but the connection lost before WAIT replied: all are at risk
        sent_ids = entry_ids[: count if sent is None else sent]
        resend_from = sent_ids.index(None) if None in sent_ids else 0
        return BatchResult(entry_ids, first, resend_from=resend_from)

    def _check_replicas(self, *, wanted: int, replies: list[Any]) -> redis.RedisError | None:
        """The error, unless the replicas WAIT asked for, and that are still connected,
        have the events. WAIT asks for as many as the last ROLE showed (at most
        `replicas_to_ack`): a primary left without replicas after a failover is not waited
        for, and is held to them again as soon as one is back."""
        failed = [reply for reply in replies if isinstance(reply, Exception)]
        if failed:
            return ReplicaCheckError(
                f"published, but the replicas could not be checked: {failed[0]}; the "
                "producer's ACL user needs +wait and +role (see `mlmon acl`)"
            )
        acked = int(replies[0]) if wanted else 0
        role = replies[-1]
        connected = len(role[2]) if role and role[0] == "master" else 0
        self.replicas_seen = connected
        if acked < min(wanted, connected):
            return ReplicationLagError(
                f"{acked} of {min(wanted, connected)} replicas acknowledged within "
                f"{self.replica_ack_timeout_ms} ms"
            )
        return None
