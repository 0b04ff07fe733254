"""Entries written with plain XADD, as redis-cli would: the bad go to the dead stream with
their reason; the good around them are processed; the loop never stops."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from helpers import jsonl_ids, log_files, make_prediction, run_mlmon

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


def test_entry_failing_more_than_max_deliveries_becomes_poison(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    stream = f"{prefix}:stream:predictions"
    entry_id = publisher.publish(make_prediction())
    client.xgroup_create(stream, "metrics", id="0")
    for _ in range(5):  # five deliveries to a consumer that never acknowledged
        client.xreadgroup("metrics", "stuck", {stream: "0" if _ else ">"}, count=10)

    result = run_mlmon("worker", "--burst", "--groups", "metrics", "--consumer", "stuck", env=env)

    assert result.returncode == 0, result.stderr
    [letter] = dead_letters(client, prefix)
    assert letter["entry_id"] == entry_id
    assert letter["reason"] == "poison: delivered 6 times without success"
    assert letter["group"] == "metrics"
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
