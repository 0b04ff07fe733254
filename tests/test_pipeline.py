"""End to end: SDK -> stream -> `mlmon worker --burst` -> prediction log and metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import (
    csv_rows,
    expected_metrics,
    jsonl_ids,
    log_files,
    make_prediction,
    random_predictions,
    run_mlmon,
    status_json,
)

from producer_sdk import Prediction, Publisher, StreamName
from worker.consumer.codec import Delivery
from worker.groups.logs import CSV_COLUMNS, LogsHandler
from worker.groups.metrics import MetricsHandler
from worker.keys import Keys
from worker.settings import Settings

IST_DAY_SPLIT = datetime(2026, 3, 9, 18, 29, 59, tzinfo=UTC)  # 23:59:59 in Asia/Kolkata


def assert_metrics_match(status: dict[str, Any], predictions: list[Prediction]) -> None:
    expected = expected_metrics(predictions)
    for name in ("total_predictions", "verdict_distribution", "confidence_histogram"):
        assert status[name] == expected[name], name
    for name in ("ml_usage_rate", "agreement_rate", "disagreement_rate", "avg_ml_confidence"):
        assert status[name] == pytest.approx(expected[name], abs=1e-9), name


def assert_logged_once(home: Path, predictions: list[Prediction]) -> None:
    jsonl_paths, csv_paths = log_files(home)
    logged = [i for path in jsonl_paths for i in jsonl_ids(path)]
    assert sorted(logged) == sorted(p.event_id for p in predictions)
    rows = [row for path in csv_paths for row in csv_rows(path)]
    assert sorted(r["event_id"] for r in rows) == sorted(p.event_id for p in predictions)


def test_burst_logs_each_prediction_once_and_metrics_equal_direct_computation(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    predictions = random_predictions(3_000, seed=11)
    publisher.publish_many(predictions)

    result = run_mlmon("worker", "--burst", env=env)

    assert result.returncode == 0, result.stderr
    assert_logged_once(home, predictions)
    status = status_json(env)
    assert_metrics_match(status, predictions)
    assert_metrics_match(status["windows"]["1h"], predictions)
    assert status["recent_predictions"][0]["event_id"] == predictions[-1].event_id
    assert len(status["recent_predictions"]) == 50


def test_day_of_each_file_is_taken_from_ts_in_the_configured_timezone(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    before = make_prediction(ts=IST_DAY_SPLIT)
    after = make_prediction(ts=IST_DAY_SPLIT + timedelta(seconds=1))
    publisher.publish_many([before, after])

    assert run_mlmon("worker", "--burst", "--groups", "logs", env=env).returncode == 0

    directory = home / "logs" / "ml_predictions"
    assert jsonl_ids(directory / "predictions_2026-03-09.jsonl") == [before.event_id]
    assert jsonl_ids(directory / "predictions_2026-03-10.jsonl") == [after.event_id]


def test_csv_has_one_header_and_the_documented_columns(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    first = make_prediction(features={"rsi_14": 41.5, "pe": 12.0}, model_version="v7")
    second = make_prediction(
        ml_verdict=None, ml_confidence=None, verdict_source="rule", final_verdict="watch"
    )
    publisher.publish(first)
    assert run_mlmon("worker", "--burst", "--groups", "logs", env=env).returncode == 0
    publisher.publish(second)
    assert run_mlmon("worker", "--burst", "--groups", "logs", env=env).returncode == 0

    [csv_path] = log_files(home)[1]
    lines = csv_path.read_text().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert sum(line.startswith("event_id,") for line in lines) == 1
    rows = csv_rows(csv_path)
    assert rows[0]["agreement"] == "false"
    assert json.loads(rows[0]["features"]) == {"rsi_14": 41.5, "pe": 12.0}
    assert rows[0]["model_version"] == "v7"
    assert rows[1]["ml_verdict"] == "" and rows[1]["agreement"] == ""


def test_same_event_published_twice_counts_once(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    predictions = random_predictions(200, seed=3)
    publisher.publish_many(predictions)
    publisher.publish_many(predictions[:50])  # a producer retry: same event ids, new entries
    assert run_mlmon("worker", "--burst", env=env).returncode == 0
    publisher.publish_many(predictions[100:120])  # and again, after they were processed
    assert run_mlmon("worker", "--burst", env=env).returncode == 0

    assert_logged_once(home, predictions)
    assert_metrics_match(status_json(env), predictions)


def test_entry_delivered_twice_changes_nothing(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str], home: Path
) -> None:
    predictions = random_predictions(100, seed=5)
    entry_ids = publisher.publish_many(predictions)
    deliveries = [Delivery(i, p, 1) for i, p in zip(entry_ids, predictions, strict=True)]
    handlers = [LogsHandler(client, settings), MetricsHandler(client, settings)]
    for handler in handlers:
        client.xgroup_create(f"{settings.prefix}:stream:predictions", handler.group, id="0")
        handler.handle(StreamName.PREDICTIONS, deliveries)
        handler.handle(
            StreamName.PREDICTIONS, [Delivery(d.entry_id, d.event, 2) for d in deliveries]
        )

    assert_logged_once(home, predictions)
    assert_metrics_match(status_json(env), predictions)


def test_windows_hold_only_their_time_range(publisher: Publisher, env: dict[str, str]) -> None:
    now = datetime.now(UTC)
    recent = random_predictions(40, seed=1, now=now, spread=timedelta(minutes=20))
    hours_ago = random_predictions(
        30, seed=2, now=now - timedelta(hours=3), spread=timedelta(hours=1)
    )
    days_ago = random_predictions(
        20, seed=3, now=now - timedelta(days=3), spread=timedelta(hours=5)
    )
    weeks_ago = random_predictions(
        10, seed=4, now=now - timedelta(days=9), spread=timedelta(hours=5)
    )
    publisher.publish_many(recent + hours_ago + days_ago + weeks_ago)
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=env).returncode == 0

    status = status_json(env)
    assert_metrics_match(status["windows"]["1h"], recent)
    assert_metrics_match(status["windows"]["24h"], recent + hours_ago)
    assert_metrics_match(status["windows"]["7d"], recent + hours_ago + days_ago)
    assert_metrics_match(status, recent + hours_ago + days_ago + weeks_ago)


def test_metric_buckets_expire_and_recent_list_is_capped(
    publisher: Publisher, client: redis.Redis, env: dict[str, str], prefix: str
) -> None:
    predictions = random_predictions(300, seed=8)
    publisher.publish_many(predictions)
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=env).returncode == 0

    buckets = list(client.scan_iter(match=f"{prefix}:metrics:minute:*")) + list(
        client.scan_iter(match=f"{prefix}:metrics:hour:*")
    )
    keys = Keys(prefix)  # one bucket per minute and per hour the events fall in
    expected = {keys.metrics_minute(p.ts) for p in predictions}
    expected |= {keys.metrics_hour(p.ts) for p in predictions}
    assert {key.decode() for key in buckets} == expected
    assert all(0 < client.ttl(key) <= 8 * 24 * 3600 for key in buckets)
    assert client.ttl(f"{prefix}:metrics:all") == -1
    assert client.llen(f"{prefix}:metrics:recent") == 50


def test_empty_status_shows_no_made_up_numbers(env: dict[str, str]) -> None:
    status = status_json(env)
    assert status["total_predictions"] == 0
    assert status["ml_usage_rate"] is None
    assert status["agreement_rate"] is None
    assert status["avg_ml_confidence"] is None
    assert status["drift"]["severity"] == "insufficient data"
    assert not status["drift"]["drift_detected"]
    assert status["retraining"]["total_retrainings"] == 0
    assert status["retraining"]["last_retraining"] is None
    assert status["feedback"]["total_outcomes"] == 0
    assert status["feedback"]["ml_accuracy"] is None
    text = run_mlmon("status", env=env).stdout
    assert "ML Usage Rate: n/a" in text
    assert "not available yet" not in text
    assert "Insufficient data: 0 predictions in the last 24h (need 100)" in text
    assert "Last Retraining: never" in text
    assert "No outcomes recorded yet." in text
