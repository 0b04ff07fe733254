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

from producer_sdk.batch import BatchResult, BatchSender
from producer_sdk.connection import client_from_url, is_cluster_client
from producer_sdk.events import (
    EVENT_MODELS,
    AnalysisCompleted,
    AnyEvent,
    BacktestCompleted,
    Prediction,
    TradeOutcome,
)
from producer_sdk.failures import (
    Entry,
    PublishError,
    ReplicationLagError,
    configuration_message,
    is_outage,
)
from producer_sdk.outgoing import Outgoing
from producer_sdk.spool import PartlySent, Spool, default_spool_dir, default_spool_max_bytes
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


__all__ = ["PublishError", "Publisher", "ReplicationLagError"]


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
        self._cluster = is_cluster_client(redis_client)
        if self._cluster and replicas_to_ack:
            raise ValueError("replicas_to_ack is for a Sentinel-managed Redis, not a cluster")
        self.redis = redis_client
        self.prefix = prefix
        self.on_failure = on_failure
        self.replicas_to_ack = replicas_to_ack
        self.replica_ack_timeout_ms = max(1, round(replica_ack_timeout_s * 1000))
        self._sender = BatchSender(
            redis_client,
            replicas_to_ack=replicas_to_ack,
            replica_ack_timeout_ms=self.replica_ack_timeout_ms,
            cluster=self._cluster,
        )
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
        ids = self._send(self._outgoing([event]))
        return None if ids is None else ids[0]

    def publish_many(self, events: Iterable[AnyEvent]) -> list[str] | None:
        """Send many events in one round trip, in order; returns their stream entry ids,
        or None when any was spooled. Every object is checked to be an event before
        anything is sent; each event's JSON is made as its XADD is packed, so Redis stores
        the first chunk of a batch while the rest is serialised. An event that cannot be
        serialised (only one built by `model_construct` can be) raises `PublishError`:
        `entry_ids` says which events before it Redis took; it and the events after it
        are neither sent nor spooled.

        When the connection fails part way, the events Redis confirmed are published and
        only the rest are spooled (from the first unconfirmed one on, so the order holds);
        with `on_failure="raise"`, or on a configuration error, `PublishError.entry_ids`
        says which were taken."""
        return self._send(self._outgoing(events))

    def flush_spool(self) -> int:
        """Replay the spool now; returns how many events were sent."""
        return self.spool.replay(self._send_spooled)

    @property
    def spool_dropped(self) -> int:
        return self.spool.dropped

    def _send(self, batch: Outgoing) -> list[str] | None:
        if not len(batch):
            return []
        if self.on_failure == "spool":
            if time.monotonic() < self._retry_at_s:  # Redis was down a moment ago: don't wait
                self._spool(batch)
                return None
            if self.spool.has_entries():  # keep the order: what waits goes first
                self._spool(batch)
                try:
                    self.flush_spool()
                except redis.RedisError as e:
                    if not is_outage(e, cluster=self._cluster):
                        raise PublishError(
                            configuration_message(
                                batch.describe(), e, spooled_in=str(self.spool.path)
                            ),
                            entry_ids=[None] * len(batch),
                        ) from e
                    self._redis_is_down(e)
                    return None
                self._redis_is_back()
                return None
        result = self._sender.send(batch)
        if batch.failure is not None:
            raise _unserialisable(batch, result) from batch.failure
        if result.error is None:
            self._redis_is_back()
            return result.entry_ids  # type: ignore[return-value]  # all str without an error
        if self.on_failure == "raise" or not is_outage(result.error, cluster=self._cluster):
            raise PublishError(
                _failure_message(batch, result, cluster=self._cluster),
                entry_ids=result.entry_ids,
            ) from result.error
        self._redis_is_down(result.error)
        self._spool(batch, result)
        return None

    def _spool(self, batch: Outgoing, result: BatchResult | None = None) -> None:
        """Keep the batch's events for replay: those from `result.resend_from` on, after
        a send. An event that cannot be serialised raises instead, and nothing of the
        batch is spooled."""
        result = result or BatchResult([None] * len(batch))
        if not batch.make_all():
            raise _unserialisable(batch, result) from batch.failure
        self.spool.append(batch.entries(result.resend_from))

    def _send_spooled(self, entries: list[Entry]) -> None:
        result = self._sender.send(Outgoing.of_entries(entries))
        if result.error is not None:
            raise PartlySent(result.resend_from, result.error)

    def _redis_is_down(self, error: redis.RedisError) -> None:
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

    def _outgoing(self, events: Iterable[AnyEvent]) -> Outgoing:
        """The events with their streams; raises before anything is sent for an object
        that is not an event. Their JSON is made as they are packed (`Outgoing`)."""
        events = list(events)
        for event in events:
            if not isinstance(event, EVENT_MODELS):
                raise TypeError(
                    f"publish() takes an event model (Prediction, AnalysisCompleted, "
                    f"BacktestCompleted, TradeOutcome), not {type(event).__name__}"
                )
        if self.partitions == 1:  # the usual case, without a call per event
            keys = self._stream_keys
            streams = [keys[event.type] for event in events]
        else:
            streams = [self._stream_key(event) for event in events]
        return Outgoing(streams, events)

    def _stream_key(self, event: AnyEvent) -> str:
        """The stream `event` goes to, the one place that chooses it: its partition's, by
        ticker (`partition_of`), when it is one of the partitioned streams."""
        if self.partitions == 1 or STREAM_OF_TYPE[event.type] in CONTROL_STREAMS:
            return self._stream_keys[event.type]
        routing_key = getattr(event, "ticker", None) or event.event_id
        return self._partition_keys[partition_of(routing_key, self.partitions)][event.type]


def _without_none(**fields: Any) -> dict[str, Any]:
    """Leave out unset arguments so model defaults (event_id, ts) apply."""
    return {name: value for name, value in fields.items() if value is not None}


def _failure_message(batch: Outgoing, result: BatchResult, *, cluster: bool) -> str:
    error = result.error
    taken = sum(entry_id is not None for entry_id in result.entry_ids)
    part = f"; Redis took {taken} of them (see entry_ids)" if 0 < taken < len(batch) else ""
    if error is not None and not is_outage(error, cluster=cluster):
        return configuration_message(batch.describe(), error) + part
    return f"could not publish {batch.describe()}: {error}{part}"


def _unserialisable(batch: Outgoing, result: BatchResult) -> PublishError:
    """The error for a batch an event that cannot be serialised stopped: `entry_ids` only
    for the events safely in (after an error, those before `resend_from`: a replication
    lag puts every one at risk)."""
    entry_ids = result.entry_ids
    also = ""
    if result.error is not None:
        entry_ids = entry_ids[: result.resend_from]
        entry_ids += [None] * (len(batch) - len(entry_ids))
        also = f" ({type(result.error).__name__} for those sent: {result.error})"
    taken = sum(entry_id is not None for entry_id in entry_ids)
    return PublishError(
        f"event {batch.made} of {len(batch)} cannot be written as JSON: {batch.failure}. Only "
        "an event built without validation (model_construct) can hold such a value: build "
        f"it with the model's constructor. Redis took {taken} events before it{also} (see "
        "entry_ids); it and the events after it were neither sent nor spooled",
        entry_ids=entry_ids,
    )
