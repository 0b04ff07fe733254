"""The SDK: what reaches the stream, and what never does."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import redis
from helpers import make_prediction
from pydantic import ValidationError

from producer_sdk import (
    Prediction,
    Publisher,
    PublishError,
    StreamName,
    TradeOutcome,
    parse_event,
)
from worker.consumer.retention import trim_stream
from worker.local.redis_server import free_port
from worker.settings import load_settings


def stream_entries(client: redis.Redis, key: str) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in client.xrange(key)]


def test_publish_writes_one_event_field_to_the_type_stream(
    publisher: Publisher, client: redis.Redis, prefix: str
) -> None:
    event = make_prediction()
    entry_id = publisher.publish(event)
    entries = client.xrange(f"{prefix}:stream:predictions")
    assert [e[0].decode() for e in entries] == [entry_id]
    fields = entries[0][1]
    assert list(fields) == [b"event"]
    assert parse_event(fields[b"event"]) == event


def test_publish_many_keeps_order_across_streams(
    publisher: Publisher, client: redis.Redis, prefix: str
) -> None:
    predictions = [make_prediction(ticker=f"T{i}.NS") for i in range(250)]
    outcome = TradeOutcome(
        ticker="TCS.NS",
        prediction_date=date(2026, 1, 2),
        actual_outcome="loss",
        pnl_pct=-1.5,
        holding_days=3,
    )
    ids = publisher.publish_many([*predictions, outcome])
    assert len(ids) == 251
    logged = [
        parse_event(f[b"event"]) for f in stream_entries(client, f"{prefix}:stream:predictions")
    ]
    assert [p.event_id for p in logged] == [p.event_id for p in predictions]
    outcomes = stream_entries(client, f"{prefix}:stream:outcomes")
    assert [parse_event(f[b"event"]) for f in outcomes] == [outcome]


def test_invalid_event_rejected_before_anything_is_sent(
    publisher: Publisher, client: redis.Redis, prefix: str
) -> None:
    good = make_prediction()
    with pytest.raises(ValidationError):
        publisher.log_prediction(ticker="NOT A TICKER", rule_verdict="buy", final_verdict="buy")
    with pytest.raises(TypeError, match="event model"):
        publisher.publish_many([good, {"type": "prediction"}])  # type: ignore[list-item]
    assert client.exists(f"{prefix}:stream:predictions") == 0


def test_streams_are_capped_by_the_workers_not_the_sdk(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    publisher.publish_many([make_prediction() for _ in range(3_000)])
    stream = f"{prefix}:stream:predictions"
    assert client.xlen(stream) == 3_000
    capped = load_settings(
        REDIS_URL=env["REDIS_URL"], MLMON_PREFIX=prefix, MLMON_STREAM_MAXLEN="1000"
    )
    trim_stream(client, capped, StreamName.PREDICTIONS, ["logs"])
    assert 1_000 <= client.xlen(stream) < 3_000


def test_helpers_build_the_events_the_pipeline_already_sends(
    publisher: Publisher, client: redis.Redis, prefix: str
) -> None:
    prediction_id = publisher.log_prediction(
        ticker="RELIANCE.NS",
        ml_verdict="watch",
        ml_confidence=0.935,
        rule_verdict="avoid",
        final_verdict="watch",
        features={"rsi_14": 41.2},
    )
    publisher.analysis_completed(batch_id="b-17", n_stocks=120, duration_s=33.0)
    publisher.backtest_completed(
        backtest_id="bt-3", n_trades=40, win_rate=0.55, total_return_pct=7.2
    )
    publisher.record_outcome(
        ticker="RELIANCE.NS",
        prediction_date="2025-01-15",
        ml_verdict="buy",
        rule_verdict="watch",
        final_verdict="buy",
        actual_outcome="profit",
        pnl_pct=8.5,
        holding_days=10,
        prediction_id=prediction_id,
    )
    [prediction] = [
        parse_event(f[b"event"]) for f in stream_entries(client, f"{prefix}:stream:predictions")
    ]
    assert isinstance(prediction, Prediction)
    assert prediction.event_id == prediction_id
    assert prediction.verdict_source.value == "ml"  # ML ran and gave the final verdict
    assert len(stream_entries(client, f"{prefix}:stream:analysis")) == 1
    assert len(stream_entries(client, f"{prefix}:stream:backtests")) == 1
    [outcome] = stream_entries(client, f"{prefix}:stream:outcomes")
    assert json.loads(outcome[b"event"])["prediction_id"] == prediction_id


def test_redis_failure_raises_publish_error_with_cause(prefix: str) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    dead = Publisher.from_url(
        nothing_there, publish_timeout_s=0.2, prefix=prefix, on_failure="raise"
    )
    with pytest.raises(PublishError, match="could not publish prediction") as caught:
        dead.publish(make_prediction())
    assert isinstance(caught.value.__cause__, redis.ConnectionError)
    with pytest.raises(PublishError) as caught_many:
        dead.publish_many([make_prediction()])
    assert isinstance(caught_many.value.__cause__, redis.ConnectionError)


def test_sdk_imports_nothing_from_worker() -> None:
    import subprocess
    import sys

    code = "import sys, producer_sdk; print(any(m.split('.')[0] == 'worker' for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_replicas_to_ack_on_a_primary_without_replicas_publishes_without_waiting(
    redis_url: str, prefix: str, client: redis.Redis, tmp_path: Path
) -> None:
    """No replica connected: every event is taken at once, and after the first publish
    (which learns from ROLE that there is none) no WAIT is sent at all."""
    publisher = Publisher.from_url(
        redis_url, prefix=prefix, spool_dir=tmp_path / "spool", replicas_to_ack=1
    )
    client.config_resetstat()
    ids = [publisher.publish(make_prediction(ticker=f"W{i}.NS")) for i in range(10)]
    assert all(entry_id is not None for entry_id in ids), "nothing spooled"
    waits = client.info("commandstats").get("cmdstat_wait", {}).get("calls", 0)
    assert waits <= 1
    assert client.xlen(f"{prefix}:stream:predictions") == 10
