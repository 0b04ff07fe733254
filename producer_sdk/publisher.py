"""Publisher: validate an event, then XADD it as one `event` field to its stream."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from producer_sdk.connection import client_from_url, is_cluster_client
from producer_sdk.events import (
    AnalysisCompleted,
    AnyEvent,
    BacktestCompleted,
    Prediction,
    TradeOutcome,
)
from producer_sdk.failures import (
    SEND_ERRORS,
    PublishError,
    ReplicationLagError,
    describe_entries,
    raise_unless_outage,
)
from producer_sdk.spool import Spool, default_spool_dir, default_spool_max_bytes
from producer_sdk.streams import (
    CONTROL_STREAMS,
    DEFAULT_PREFIX,
    STREAM_OF_TYPE,
    control_prefix,
    partition_of,
    partition_prefix,
    stream_key_for,
)
from producer_sdk.vocabulary import EventType, Outcome, Verdict, VerdictSource

SPOOL_RETRY_FIRST_S = 0.5  # after a failure, try Redis again after this long, doubling
SPOOL_RETRY_MAX_S = 4.0  # an outage costs a publish at most its timeout this often

log = logging.getLogger("producer_sdk")


class Publisher:
    """Publishes events to the mlmon streams.

    :param redis_client: a connected `redis.Redis`; the publisher does not close it. Its
        socket timeouts bound how long a publish can take (`from_url` sets them).
    :param prefix: key prefix shared with the workers (`MLMON_PREFIX`).
    :param on_failure: `"spool"` (default): when Redis is unreachable, keep the event in a
        local spool file, never raise into trading code, and replay the spool in order on
        the next successful publish. A configuration error (wrong password, NOPERM) is no
        outage: it raises `PublishError` and spools nothing. `"raise"`: raise
        `PublishError` instead.
    :param spool_dir: where the spool lives (default `MLMON_SPOOL_DIR`, `~/.mlmon/spool`).
    :param spool_max_mb: spool size at which the oldest events are dropped (and counted).
    :param replicas_to_ack: with a replicated Redis (Sentinel), how many replicas must have
        an event before the publish counts as done (`WAIT`, in the same round trip): an
        event the primary took but no replica got would be lost if the primary died, so
        such a publish is spooled and replayed instead (the workers drop the duplicate by
        its event_id). A primary with fewer replicas connected (after a failover, before
        the old primary rejoins) is held to those it has. 0 (default) does not wait.
    :param replica_ack_timeout_s: how long to wait for those replicas.
    :param partitions: the workers' `MLMON_PARTITIONS` (Redis Cluster). A prediction or an
        outcome goes to partition `zlib.crc32(ticker) % partitions`, so an outcome meets its
        prediction; analysis and backtest events concern the whole deployment and go to
        the shared streams (`producer_sdk.streams`).
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        on_failure: Literal["spool", "raise"] = "spool",
        spool_dir: Path | None = None,
        spool_max_mb: float | None = None,
        replicas_to_ack: int = 0,
        replica_ack_timeout_s: float = 0.1,
        partitions: int = 1,
    ) -> None:
        if replicas_to_ack < 0 or replica_ack_timeout_s <= 0:
            raise ValueError("replicas_to_ack must be >= 0 and replica_ack_timeout_s > 0")
        if on_failure not in {"spool", "raise"}:
            raise ValueError("on_failure must be 'spool' or 'raise'")
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.redis = redis_client
        self.prefix = prefix
        self.on_failure = on_failure
        self.replicas_to_ack = replicas_to_ack
        self.replica_ack_timeout_ms = max(1, round(replica_ack_timeout_s * 1000))
        self._replicas_seen = replicas_to_ack  # replicas WAIT asks for (from the last ROLE)
        max_bytes = (
            default_spool_max_bytes() if spool_max_mb is None else int(spool_max_mb * 1024 * 1024)
        )
        self.partitions = partitions
        shared = control_prefix(prefix, partitions)
        self._stream_keys = {kind: stream_key_for(shared, kind) for kind in EventType}
        self._partition_keys = [
            {kind: stream_key_for(partition_prefix(prefix, i), kind) for kind in EventType}
            for i in range(partitions)
        ]
        self._cluster = is_cluster_client(redis_client)
        self.spool = Spool(spool_dir or default_spool_dir(), name=prefix, max_bytes=max_bytes)
        self._retry_at_s = 0.0  # while Redis is down, publishes go straight to the spool
        self._backoff_s = SPOOL_RETRY_FIRST_S

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        publish_timeout_s: float = 0.2,
        prefix: str = DEFAULT_PREFIX,
        on_failure: Literal["spool", "raise"] = "spool",
        spool_dir: Path | None = None,
        replicas_to_ack: int = 0,
        partitions: int = 1,
    ) -> Publisher:
        """Connect with socket timeouts of `publish_timeout_s` and no client-side retries,
        so an unreachable or stalled Redis costs trading code at most that long.

        `url` is `redis://`, `rediss://`, `unix://`, or `redis+sentinel://` /
        `rediss+sentinel://` to follow a Sentinel-managed primary through failovers, or
        `redis+cluster://` for a Redis Cluster (with `partitions`; `producer_sdk.connection`)."""
        client = client_from_url(
            url,
            socket_timeout=publish_timeout_s,
            socket_connect_timeout=publish_timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(
            client,
            prefix=prefix,
            on_failure=on_failure,
            spool_dir=spool_dir,
            replicas_to_ack=replicas_to_ack,
            replica_ack_timeout_s=publish_timeout_s / 4,  # WAIT's timeout ends on a 100 ms tick
            partitions=partitions,
        )

    def publish(self, event: AnyEvent) -> str | None:
        """Send one event; returns its stream entry id, or None when it was spooled."""
        ids = self._send([self._entry(event)])
        return None if ids is None else ids[0]

    def publish_many(self, events: Iterable[AnyEvent]) -> list[str] | None:
        """Send many events in one round trip, in order; returns their stream entry ids,
        or None when they were spooled. Every event is validated before anything is sent."""
        return self._send([self._entry(event) for event in events])

    def flush_spool(self) -> int:
        """Replay the spool now; returns how many events were sent."""
        return self.spool.replay(self._xadd_many)

    @property
    def spool_dropped(self) -> int:
        return self.spool.dropped

    def _send(self, entries: list[tuple[str, str]]) -> list[str] | None:
        if self.on_failure == "raise":
            try:
                return self._xadd_many(entries)
            except SEND_ERRORS as e:
                raise PublishError(f"could not publish {describe_entries(entries)}: {e}") from e
        if time.monotonic() < self._retry_at_s:  # Redis was down a moment ago: don't wait
            self.spool.append(entries)
            return None
        if self.spool.has_entries():  # keep the order: what waits goes first
            self.spool.append(entries)
            try:
                self.flush_spool()
            except SEND_ERRORS as e:
                raise_unless_outage(e, entries, cluster=self._cluster)
                self._redis_is_down(e)
                return None
            self._redis_is_back()
            return None
        try:
            ids = self._xadd_many(entries)
        except SEND_ERRORS as e:  # a partly sent pipeline is replayed whole: harmless
            raise_unless_outage(e, entries, cluster=self._cluster)
            self._redis_is_down(e)
            self.spool.append(entries)
            return None
        self._redis_is_back()
        return ids

    def _xadd_many(self, entries: list[tuple[str, str]]) -> list[str]:
        if len(entries) == 1 and not self.replicas_to_ack:
            stream, event_json = entries[0]
            entry_id = self.redis.xadd(stream, {"event": event_json})
            return [_text(entry_id)]
        # never MAXLEN or MINID: trimming is the workers' (by age, past what every group
        # acknowledged), so a producer's credentials never need to delete anything
        pipe = self.redis.pipeline(transaction=False)
        for stream, event_json in entries:  # the command as is: xadd()'s checks cost a tenth
            pipe.execute_command("XADD", stream, "*", "event", event_json)  # type: ignore[no-untyped-call]
        wanted = min(self.replicas_to_ack, self._replicas_seen)
        if wanted:
            pipe.execute_command("WAIT", wanted, self.replica_ack_timeout_ms)  # type: ignore[no-untyped-call]
        if self.replicas_to_ack:
            pipe.execute_command("ROLE")  # type: ignore[no-untyped-call]
        replies = pipe.execute(raise_on_error=False)
        added, checks = replies[: len(entries)], replies[len(entries) :]
        for reply in added:
            if isinstance(reply, Exception):
                raise reply
        if self.replicas_to_ack:
            self._check_replicas(wanted=wanted, replies=checks)
        return [_text(entry_id) for entry_id in added]

    def _check_replicas(self, *, wanted: int, replies: list[Any]) -> None:
        """Raise ReplicationLagError unless the replicas WAIT asked for, and that are still
        connected, have the events. WAIT asks for as many as the last ROLE showed (at most
        `replicas_to_ack`): a primary left without replicas after a failover is not waited
        for, and is held to them again as soon as one is back."""
        failed = [reply for reply in replies if isinstance(reply, Exception)]
        if failed:  # the events are in: it is the user's rights, not an outage
            raise PublishError(
                f"published, but the replicas could not be checked: {failed[0]}; the "
                "producer's ACL user needs +wait and +role (see `mlmon acl`)"
            ) from failed[0]
        acked = int(replies[0]) if wanted else 0
        role = replies[-1]
        connected = len(role[2]) if role and _text(role[0]) == "master" else 0
        self._replicas_seen = connected
        if acked < min(wanted, connected):
            raise ReplicationLagError(
                f"{acked} of {min(wanted, connected)} replicas acknowledged within "
                f"{self.replica_ack_timeout_ms} ms"
            )

    def _redis_is_down(self, error: Exception) -> None:
        if self._retry_at_s == 0.0:
            log.warning(
                "mlmon: Redis unreachable, spooling events to %s: %s", self.spool.path, error
            )
        self._retry_at_s = time.monotonic() + self._backoff_s
        self._backoff_s = min(SPOOL_RETRY_MAX_S, self._backoff_s * 2)

    def _redis_is_back(self) -> None:
        if self._retry_at_s:
            log.warning("mlmon: Redis reachable again; spool replayed")
        self._retry_at_s = 0.0
        self._backoff_s = SPOOL_RETRY_FIRST_S

    def log_prediction(
        self,
        *,
        ticker: str,
        rule_verdict: Verdict | str,
        final_verdict: Verdict | str,
        ml_verdict: Verdict | str | None = None,
        ml_confidence: float | None = None,
        verdict_source: VerdictSource | str | None = None,
        features: Mapping[str, float] | None = None,
        model_version: str | None = None,
        ts: datetime | None = None,
    ) -> str:
        """Publish a prediction; returns its event_id (pass it later as `prediction_id`).

        Without `verdict_source`, the final verdict counts as ML's when ML ran and gave it.
        """
        if verdict_source is None:
            ml_gave_final = ml_verdict is not None and Verdict(ml_verdict) == Verdict(final_verdict)
            verdict_source = VerdictSource.ML if ml_gave_final else VerdictSource.RULE
        event = Prediction.model_validate(
            _without_none(
                ticker=ticker,
                ml_verdict=ml_verdict,
                ml_confidence=ml_confidence,
                rule_verdict=rule_verdict,
                final_verdict=final_verdict,
                verdict_source=verdict_source,
                features=dict(features) if features is not None else None,
                model_version=model_version,
                ts=ts,
            )
        )
        self.publish(event)
        return event.event_id

    def analysis_completed(
        self,
        *,
        batch_id: str,
        n_stocks: int,
        duration_s: float,
        tickers: list[str] | None = None,
    ) -> str:
        """Publish ANALYSIS_COMPLETED; returns its event_id."""
        event = AnalysisCompleted.model_validate(
            _without_none(
                batch_id=batch_id, n_stocks=n_stocks, duration_s=duration_s, tickers=tickers
            )
        )
        self.publish(event)
        return event.event_id

    def backtest_completed(
        self,
        *,
        backtest_id: str,
        n_trades: int,
        win_rate: float,
        total_return_pct: float,
        extras: Mapping[str, Any] | None = None,
    ) -> str:
        """Publish BACKTEST_COMPLETED; returns its event_id."""
        event = BacktestCompleted.model_validate(
            _without_none(
                backtest_id=backtest_id,
                n_trades=n_trades,
                win_rate=win_rate,
                total_return_pct=total_return_pct,
                extras=dict(extras) if extras is not None else None,
            )
        )
        self.publish(event)
        return event.event_id

    def record_outcome(
        self,
        *,
        ticker: str,
        prediction_date: date | str,
        actual_outcome: Outcome | str,
        pnl_pct: float,
        holding_days: int,
        ml_verdict: Verdict | str | None = None,
        rule_verdict: Verdict | str | None = None,
        final_verdict: Verdict | str | None = None,
        prediction_id: str | None = None,
    ) -> str:
        """Publish a trade outcome (the original system's arguments); returns its event_id.

        `prediction_id` (the prediction's event_id) is the reliable way to join; without
        it the feedback worker joins by ticker and prediction date.
        """
        event = TradeOutcome.model_validate(
            _without_none(
                ticker=ticker,
                prediction_date=prediction_date,
                actual_outcome=actual_outcome,
                pnl_pct=pnl_pct,
                holding_days=holding_days,
                ml_verdict=ml_verdict,
                rule_verdict=rule_verdict,
                final_verdict=final_verdict,
                prediction_id=prediction_id,
            )
        )
        self.publish(event)
        return event.event_id

    def _entry(self, event: AnyEvent) -> tuple[str, str]:
        if not isinstance(event, Prediction | AnalysisCompleted | BacktestCompleted | TradeOutcome):
            raise TypeError(
                f"publish() takes an event model (Prediction, AnalysisCompleted, "
                f"BacktestCompleted, TradeOutcome), not {type(event).__name__}"
            )
        return self._stream_key(event), event.model_dump_json()

    def _stream_key(self, event: AnyEvent) -> str:
        """The event's stream: its partition's, by ticker (`partition_of`), when it is one
        of the partitioned streams."""
        if self.partitions == 1 or STREAM_OF_TYPE[event.type] in CONTROL_STREAMS:
            return self._stream_keys[event.type]
        routing_key = getattr(event, "ticker", None) or event.event_id
        return self._partition_keys[partition_of(routing_key, self.partitions)][event.type]


def _without_none(**fields: Any) -> dict[str, Any]:
    """Leave out unset arguments so model defaults (event_id, ts) apply."""
    return {name: value for name, value in fields.items() if value is not None}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
