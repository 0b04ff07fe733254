"""Kill workers and start them again: nothing lost, nothing counted twice."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from helpers import (
    MLMON,
    assert_exactly_once,
    csv_rows,
    expected_metrics,
    jsonl_ids,
    profit_outcomes,
    random_predictions,
    run_mlmon,
    wait_until,
)

from producer_sdk import Publisher
from worker.groups.logs import CSV_HEADER, csv_row

pytestmark = pytest.mark.slow


def counted(client: redis.Redis, prefix: str) -> int:
    return int(client.hget(f"{prefix}:metrics:all", "predictions") or 0)


def logged_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "logs" / "ml_predictions").glob("*.jsonl"))


def test_sigkill_mid_batch_then_restart_loses_and_duplicates_nothing(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    predictions = random_predictions(20_000, seed=21)
    outcomes = profit_outcomes(predictions)
    publisher.publish_many(predictions)
    publisher.publish_many(outcomes)
    env = {**env, "MLMON_BATCH_SIZE": "2000"}
    for kill_after in (1, 6_000, 12_000):
        worker = subprocess.Popen(
            [MLMON, "worker", "--consumer", "c1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # polled often: the kill must land mid-way, before the worker has drained the stream
        wait_until(
            lambda n=kill_after: counted(client, prefix) >= n and logged_bytes(home) > 0,
            30,
            poll_s=0.01,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    progress_at_last_kill = counted(client, prefix)
    assert progress_at_last_kill < len(predictions), "the worker finished before it was killed"

    result = run_mlmon("worker", "--burst", "--consumer", "c1", env=env)

    assert result.returncode == 0, result.stderr
    status = assert_exactly_once(home, env, predictions)
    expected = expected_metrics(predictions)
    assert status["avg_ml_confidence"] == pytest.approx(expected["avg_ml_confidence"], abs=1e-9)
    feedback_ids = [r["outcome_id"] for r in csv_rows(home / "data" / "ml_feedback.csv")]
    assert sorted(feedback_ids) == sorted(o.event_id for o in outcomes)
    assert status["feedback"]["total_outcomes"] == len(outcomes)
    assert status["feedback"]["joined_by_id"] == len(outcomes)
    for group in ("logs", "metrics", "feedback"):
        assert client.xpending(f"{prefix}:stream:predictions", group)["pending"] == 0
    assert client.xpending(f"{prefix}:stream:outcomes", "feedback")["pending"] == 0


def test_bytes_of_a_batch_that_never_committed_are_cut_off(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    """The exact state a crash between writing and acknowledging leaves behind."""
    predictions = random_predictions(10, seed=4)
    publisher.publish_many(predictions)
    stream = f"{prefix}:stream:predictions"
    client.xgroup_create(stream, "logs", id="0")
    client.xreadgroup("logs", "c1", {stream: ">"}, count=100)  # delivered, never acknowledged
    directory = home / "logs" / "ml_predictions"
    directory.mkdir(parents=True)
    day = predictions[0].ts.astimezone(ZoneInfo("Asia/Kolkata")).date()
    jsonl, csv_path = directory / f"predictions_{day}.jsonl", directory / f"predictions_{day}.csv"
    client.hset(
        f"{prefix}:files:committed",
        mapping={f"logs/ml_predictions/{jsonl.name}": 0, f"logs/ml_predictions/{csv_path.name}": 0},
    )
    half_written = "".join(p.model_dump_json() + "\n" for p in predictions[:6]) + '{"event_id": "'
    jsonl.write_text(half_written)
    csv_path.write_text(CSV_HEADER + "".join(csv_row(p) for p in predictions[:6]) + "abc,")

    result = run_mlmon("worker", "--burst", "--groups", "logs", "--consumer", "c1", env=env)

    assert result.returncode == 0, result.stderr
    assert sorted(jsonl_ids(jsonl)) == sorted(p.event_id for p in predictions)
    assert sorted(r["event_id"] for r in csv_rows(csv_path)) == sorted(
        p.event_id for p in predictions
    )
    assert csv_path.read_text().count("event_id,") == 1
    assert (
        int(client.hget(f"{prefix}:files:committed", f"logs/ml_predictions/{jsonl.name}") or 0)
        == jsonl.stat().st_size
    )


def test_sigterm_finishes_the_batch_and_exits_zero(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    worker = subprocess.Popen(
        [MLMON, "worker", "--consumer", "c1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    publisher.publish_many(random_predictions(5_000, seed=9))
    wait_until(lambda: counted(client, prefix) > 0, 30, poll_s=0.01)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=20)

    assert worker.returncode == 0, stderr
    assert "stopping after the current batch" in stderr
    for group in ("logs", "metrics"):
        assert client.xpending(f"{prefix}:stream:predictions", group)["pending"] == 0
