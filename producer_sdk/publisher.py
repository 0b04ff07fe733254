"""Publisher: validate an event, then XADD it as one `event` field to its stream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from producer_sdk.events import (
    AnalysisCompleted,
    AnyEvent,
    BacktestCompleted,
    Outcome,
    Prediction,
    TradeOutcome,
    Verdict,
    VerdictSource,
)
from producer_sdk.streams import DEFAULT_PREFIX, stream_key_for

DEFAULT_STREAM_MAXLEN = 1_000_000


class PublishError(Exception):
    """Redis did not take the event; the cause is chained."""


class Publisher:
    """Publishes events to the mlmon streams.

    :param redis_client: a connected `redis.Redis`; the publisher does not close it.
    :param prefix: key prefix shared with the workers (`MLMON_PREFIX`).
    :param stream_maxlen: approximate cap on each stream's length (`XADD MAXLEN ~`);
        None keeps every entry. Must exceed what the consumers can fall behind by.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        stream_maxlen: int | None = DEFAULT_STREAM_MAXLEN,
    ) -> None:
        if stream_maxlen is not None and stream_maxlen <= 0:
            raise ValueError("stream_maxlen must be positive or None")
        self.redis = redis_client
        self.prefix = prefix
        self.stream_maxlen = stream_maxlen

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_s: float = 1.0,
        prefix: str = DEFAULT_PREFIX,
        stream_maxlen: int | None = DEFAULT_STREAM_MAXLEN,
    ) -> Publisher:
        """Connect with bounded socket timeouts, so a stalled Redis cannot hang trading code."""
        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        return cls(client, prefix=prefix, stream_maxlen=stream_maxlen)

    def publish(self, event: AnyEvent) -> str:
        """Send one event; returns the stream entry id."""
        stream, fields = self._entry(event)
        try:
            entry_id = self.redis.xadd(stream, fields, maxlen=self.stream_maxlen, approximate=True)
        except redis.RedisError as e:
            raise PublishError(f"could not publish {event.type.value} to {stream}: {e}") from e
        return _text(entry_id)

    def publish_many(self, events: Iterable[AnyEvent]) -> list[str]:
        """Send many events in one round trip, in order; returns their stream entry ids.

        Every event is validated (and serialized) before anything is sent.
        """
        entries = [self._entry(event) for event in events]
        pipe = self.redis.pipeline(transaction=False)
        for stream, fields in entries:
            pipe.xadd(stream, fields, maxlen=self.stream_maxlen, approximate=True)
        try:
            entry_ids = pipe.execute()
        except redis.RedisError as e:
            raise PublishError(f"could not publish {len(entries)} events: {e}") from e
        return [_text(entry_id) for entry_id in entry_ids]

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

    def _entry(self, event: AnyEvent) -> tuple[str, dict[FieldT, EncodableT]]:
        if not isinstance(event, Prediction | AnalysisCompleted | BacktestCompleted | TradeOutcome):
            raise TypeError(
                f"publish() takes an event model (Prediction, AnalysisCompleted, "
                f"BacktestCompleted, TradeOutcome), not {type(event).__name__}"
            )
        return stream_key_for(self.prefix, event.type), {"event": event.model_dump_json()}


def _without_none(**fields: Any) -> dict[str, Any]:
    """Leave out unset arguments so model defaults (event_id, ts) apply."""
    return {name: value for name, value in fields.items() if value is not None}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
