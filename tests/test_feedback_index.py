"""The feedback index packed in per-day hashes: a kept prediction comes back whole, and an
id join finds it when the outcome gives the UTC date of a prediction made after midnight
in MLMON_TIMEZONE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from helpers import csv_rows, make_prediction, run_mlmon

from producer_sdk import Publisher, TradeOutcome
from worker.groups.feedback_index import pack, unpack
from worker.keys import Keys
from worker.redis_values import as_text


def test_a_packed_prediction_comes_back_equal() -> None:
    with_everything = make_prediction(features={"rsi": 41.5, "volume_z": -0.25}, model_version="v9")
    rule_only = make_prediction(
        ml_verdict=None, ml_confidence=None, verdict_source="rule", final_verdict="watch"
    )
    for prediction in (with_everything, rule_only):
        assert unpack(prediction.event_id, pack(prediction)) == prediction


def test_an_id_join_accepts_the_utc_date_across_midnight_in_the_time_zone(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    # 20:00 UTC is 01:30 the next day in Asia/Kolkata, the default MLMON_TIMEZONE
    at = (datetime.now(UTC) - timedelta(days=3)).replace(hour=20, minute=0, microsecond=0)
    prediction = make_prediction(ticker="INFY.NS", ts=at)
    outcome = TradeOutcome(
        prediction_id=prediction.event_id,
        ticker=prediction.ticker,
        prediction_date=at.date(),
        actual_outcome="profit",
        pnl_pct=2.0,
        holding_days=1,
    )
    publisher.publish(prediction)
    publisher.publish(outcome)

    result = run_mlmon("worker", "--burst", "--groups", "feedback", env=env)

    assert result.returncode == 0, result.stderr
    [row] = csv_rows(home / "data" / "ml_feedback.csv")
    assert (row["prediction_id"], row["joined_by"]) == (prediction.event_id, "id")


def test_an_id_not_found_joins_no_other_prediction_of_the_ticker(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    """The id's prediction is kept under its own day, three days before the date the
    outcome gives: the ticker's prediction of that date is another one, and joining it
    would train the model on its features under this outcome's label."""
    now = datetime.now(UTC)
    older = make_prediction(ticker="INFY.NS", ts=now - timedelta(days=3), features={"rsi": 30.0})
    newer = make_prediction(ticker="INFY.NS", ts=now - timedelta(minutes=5), features={"rsi": 70.0})
    outcome = TradeOutcome(
        prediction_id=older.event_id,
        ticker="INFY.NS",
        prediction_date=newer.ts.astimezone(ZoneInfo("Asia/Kolkata")).date(),  # MLMON_TIMEZONE
        actual_outcome="profit",
        pnl_pct=2.0,
        holding_days=1,
        ml_verdict="buy",
        rule_verdict="buy",
        final_verdict="buy",
    )
    publisher.publish_many([older, newer])
    publisher.publish(outcome)

    result = run_mlmon("worker", "--burst", "--groups", "feedback", env=env)

    assert result.returncode == 0, result.stderr
    [row] = csv_rows(home / "data" / "ml_feedback.csv")
    assert row["prediction_id"] != newer.event_id
    assert row["joined_by"] == "none"
    assert csv_rows(home / "data" / "ml_training_data.csv") == []


def test_a_batch_of_thousands_of_tickers_is_indexed_whole(
    publisher: Publisher, env: dict[str, str], client: redis.Redis, prefix: str
) -> None:
    """The newest prediction of each ticker of a day is written in chunks: one HSET of
    more than about 8,000 arguments would exceed what Lua can unpack at once."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    tickers = [f"T{n:05d}.NS" for n in range(5_000)]
    publisher.publish_many([make_prediction(ticker=ticker, ts=at) for ticker in tickers])

    result = run_mlmon(
        "worker", "--burst", "--groups", "feedback", env={**env, "MLMON_BATCH_SIZE": "10000"}
    )

    assert result.returncode == 0, result.stderr
    day = at.astimezone(ZoneInfo("Asia/Kolkata")).date().isoformat()  # MLMON_TIMEZONE
    latest = client.hkeys(Keys(prefix).feedback_latest(day))
    assert sorted(as_text(name) for name in latest) == tickers
