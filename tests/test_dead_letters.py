"""Entries written with plain XADD, as redis-cli would: the bad go to the dead stream with
their reason; the good around them are processed; the loop never stops."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from helpers import csv_rows, jsonl_ids, log_files, make_prediction, run_mlmon
from pydantic import ValidationError
from test_feedback import outcome_for

from producer_sdk import Publisher
from worker.consumer.codec import MAX_ENTRY_BYTES


def dead_letters(client: redis.Redis, prefix: str) -> list[dict[str, str]]:
    return [
        {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
        for _, fields in client.xrange(f"{prefix}:stream:dead")
    ]


def test_bad_entries_dead_lettered_with_reason_and_good_ones_processed(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    stream = f"{prefix}:stream:predictions"
    good = [make_prediction(ticker=f"G{i}.NS") for i in range(4)]
    valid = json.loads(good[0].model_dump_json())
    bad_entries = {
        "not-json": {"event": "{this is not json"},
        "unknown-type": {"event": json.dumps({**valid, "type": "SELL_SIGNAL"})},
        "missing-field": {
            "event": json.dumps({k: v for k, v in valid.items() if k != "rule_verdict"})
        },
        "no-event-field": {"payload": good[0].model_dump_json()},
        "oversized": {"event": json.dumps({**valid, "ticker": "X" * MAX_ENTRY_BYTES})},
        "wrong-stream": {
            "event": json.dumps(
                {
                    "event_id": "o1",
                    "ts": valid["ts"],
                    "type": "trade_outcome",
                    "ticker": "TCS.NS",
                    "prediction_date": "2026-01-01",
                    "actual_outcome": "profit",
                    "pnl_pct": 1.0,
                    "holding_days": 1,
                }
            )
        },
    }
    bad_ids = {}
    for number, (name, fields) in enumerate(bad_entries.items()):
        if number < len(good):
            publisher.publish(good[number])  # good and bad entries interleaved
        bad_ids[name] = client.xadd(stream, fields).decode()

    result = run_mlmon("worker", "--burst", env=env)

    assert result.returncode == 0, result.stderr
    letters = {d["entry_id"]: d for d in dead_letters(client, prefix)}
    assert set(letters) == set(bad_ids.values())  # one letter per entry, though two groups read it
    reasons = {name: letters[entry_id]["reason"] for name, entry_id in bad_ids.items()}
    assert reasons["not-json"].startswith("not JSON")
    assert reasons["unknown-type"] == "unknown type 'SELL_SIGNAL'"
    assert reasons["missing-field"].startswith("invalid field 'rule_verdict': Field required")
    assert reasons["no-event-field"] == "missing field 'event' (fields: payload)"
    assert reasons["oversized"].startswith("entry too large")
    assert reasons["wrong-stream"].startswith(
        "event type 'trade_outcome' belongs on stream 'outcomes'"
    )
    letter = letters[bad_ids["not-json"]]
    assert letter["stream"] == stream
    assert letter["deliveries"] == "1"
    assert letter["entry.event"] == "{this is not json"  # the original entry, to replay
    [jsonl] = log_files(home)[0]
    assert sorted(jsonl_ids(jsonl)) == sorted(p.event_id for p in good)
    for group in ("logs", "metrics"):
        assert client.xpending(stream, group)["pending"] == 0


def test_redelivered_valid_entry_is_processed_not_poison(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    stream = f"{prefix}:stream:predictions"
    publisher.publish(make_prediction())
    client.xgroup_create(stream, "metrics", id="0")
    for _ in range(8):  # delivered eight times to a consumer that kept crashing
        client.xreadgroup("metrics", "stuck", {stream: "0" if _ else ">"}, count=10)

    result = run_mlmon("worker", "--burst", "--groups", "metrics", "--consumer", "stuck", env=env)

    assert result.returncode == 0, result.stderr
    assert dead_letters(client, prefix) == []
    assert client.hget(f"{prefix}:metrics:all", "predictions") == b"1"
    assert client.xpending(stream, "metrics")["pending"] == 0


def test_malformed_lifecycle_entry_is_dead_lettered_not_retried_forever(
    client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    """The models stream is read raw (mlmon writes it); a malformed entry there follows the
    poison rule of every other group: refused once, dead-lettered, acknowledged."""
    stream = f"{prefix}:stream:models"
    malformed = client.xadd(stream, {"event": b"\xff{not json"}).decode()
    a_list = client.xadd(stream, {"event": "[1, 2]"}).decode()
    lifecycle = {"type": "model_promoted", "model": "m", "version": 3, "ts": "2026-01-01"}
    good = client.xadd(stream, {"event": json.dumps(lifecycle)}).decode()

    result = run_mlmon("worker", "--burst", "--groups", "alerts", env=env)

    assert result.returncode == 0, result.stderr
    letters = {letter["entry_id"]: letter for letter in dead_letters(client, prefix)}
    assert set(letters) == {malformed, a_list}
    assert letters[malformed]["reason"].startswith("not a lifecycle event: ")
    assert letters[a_list]["reason"] == "not a lifecycle event: a JSON list, not an object"
    assert all(letter["group"] == "alerts" for letter in letters.values())
    assert client.xpending(stream, "alerts")["pending"] == 0, "nothing left to retry"
    sent = [
        alert
        for _, fields in client.xrange(f"{prefix}:stream:alerts")
        for alert in json.loads(fields[b"event"])["alerts"]
    ]
    assert [(a["name"], a["summary"]) for a in sent] == [
        ("model_promoted", "model version 3 promoted")
    ], f"the valid entry {good} was used"


def test_one_failing_entry_in_a_burst_batch_goes_dead_alone(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    tickers = [f"G{i}.NS" for i in range(5)] + ["POISON.NS"] + [f"H{i}.NS" for i in range(5)]
    predictions = [make_prediction(ticker=t, features={"rsi": 50.0}) for t in tickers]
    outcomes = [outcome_for(p, prediction_id=p.event_id) for p in predictions]
    publisher.publish_many(predictions)
    publisher.publish_many(outcomes)
    buggy = {
        **env,
        "ML_LABEL_RULE": "label_rules:explode_on_poison",
        "ML_MAX_DELIVERIES": "3",
        "PYTHONPATH": str(Path(__file__).parent),
    }
    outcomes_stream = f"{prefix}:stream:outcomes"
    runs = [run_mlmon("worker", "--burst", "--groups", "feedback", env=buggy) for _ in range(4)]

    # the first three runs fail (the entry stays pending), its neighbours done in the first
    assert [r.returncode for r in runs] == [1, 1, 1, 0], runs[-1].stderr
    assert "entries failed on their own" in runs[0].stderr
    [letter] = dead_letters(client, prefix)
    assert letter["reason"] == "poison: failed 3 times on its own"
    assert json.loads(letter["entry.event"])["ticker"] == "POISON.NS"
    done = [r["outcome_id"] for r in csv_rows(home / "data" / "ml_feedback.csv")]
    assert sorted(done) == sorted(o.event_id for o in outcomes if o.ticker != "POISON.NS")
    assert client.xpending(outcomes_stream, "feedback")["pending"] == 0
    assert client.hlen(f"{prefix}:failures:feedback") == 0


def test_extreme_timestamps_are_dead_lettered_and_every_group_goes_on(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    stream = f"{prefix}:stream:predictions"
    valid = json.loads(make_prediction().model_dump_json())
    extreme = {
        "9999-12-31T23:59:59+00:00": "in the future",
        "0001-01-01T00:00:00+05:30": "out of range in UTC",
        (datetime.now(UTC) + timedelta(days=30)).isoformat(): "clock skew",
    }
    good = [make_prediction(ticker=f"G{i}.NS") for i in range(3)]
    extreme_ids = {}
    for number, (ts, why) in enumerate(extreme.items()):
        publisher.publish(good[number])
        event = {**valid, "event_id": f"x{number}", "ts": ts}
        extreme_ids[client.xadd(stream, {"event": json.dumps(event)}).decode()] = why

    result = run_mlmon("worker", "--burst", env=env)

    assert result.returncode == 0, result.stderr
    letters = dead_letters(client, prefix)
    assert {letter["entry_id"] for letter in letters} == set(extreme_ids)
    for letter in letters:
        assert letter["reason"].startswith("invalid field 'ts'")
        assert extreme_ids[letter["entry_id"]] in letter["reason"]
    [jsonl] = log_files(home)[0]
    assert sorted(jsonl_ids(jsonl)) == sorted(p.event_id for p in good)
    assert client.hget(f"{prefix}:metrics:all", "predictions") == b"3"
    for key in client.scan_iter(f"{prefix}:metrics:*:*"):
        assert client.ttl(key) <= 8 * 86_400  # no bucket outlives its window
    for group in ("logs", "metrics", "feedback"):
        assert client.xpending(stream, group)["pending"] == 0


def test_dlq_commands_survive_hostile_entries_and_csv_cells_stay_text(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    stream = f"{prefix}:stream:predictions"
    client.xadd(stream, {b"\xff\xfename": b"x", b"\x1b[2J\x1b[31mred": b"\x1b]0;title\x07"})
    formula = make_prediction(model_version='=HYPERLINK("http://evil","x")')
    publisher.publish(formula)
    assert run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=env).returncode == 0

    listed = run_mlmon("dlq", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\\x1b[31mred" in listed.stdout
    as_json = run_mlmon("dlq", "list", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    [letter] = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert "\ufffd\ufffdname" in letter["original"]
    shown = run_mlmon("dlq", "show", letter["id"], env=env)
    assert shown.returncode == 0, shown.stderr

    [csv_path] = log_files(home)[1]
    [row] = csv_rows(csv_path)
    assert row["model_version"] == '\'=HYPERLINK("http://evil","x")'
    with pytest.raises(ValidationError, match="should match pattern"):
        make_prediction(features={"=cmd|' /C calc'!A0": 1.0})
