"""The consumers' fast paths give exactly what the slow ones gave: msgspec's decoding of a
prediction (pydantic for what it refuses), the CSV rows and feature JSON of the logs."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from helpers import make_prediction

from producer_sdk.encoding import event_json
from producer_sdk.events import Prediction, parse_event
from producer_sdk.streams import StreamName
from worker.consumer.codec import DecodeError, decode_entry
from worker.consumer.csv_cells import safe_cell
from worker.consumer.fast_decode import fast_prediction
from worker.groups.logs import CsvRows, features_json

VERDICTS = ["strong_buy", "buy", "watch", "avoid"]
ODD_TEXT = "a,b\"c\n\r\t =+-@'é✓\x7f\\/x1"


def _ts(rng: random.Random) -> Any:
    now = datetime.now(UTC)
    moment = now + timedelta(seconds=rng.choice([-1e9, -5, 0, 3599, 3601, 1e6, -4e8]))
    zone = rng.choice([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(0)), None])
    text = (moment.astimezone(zone) if zone else moment.replace(tzinfo=None)).isoformat()
    return rng.choice(
        [
            text,
            text.replace("+00:00", "Z"),
            text.replace("T", " "),
            "1970-06-01T00:00:00Z",
            "1971-01-01T00:00:00.5Z",
            "9999-12-31T23:59:59-05:00",
            "2025-01-01T24:00:00Z",
            1_700_000_000,
            None,
        ]
    )


def _event(rng: random.Random) -> dict[str, Any]:
    """A prediction's JSON object, valid or not in the ways producers get it wrong."""

    def pick(valid: list[Any], odd: list[Any]) -> Any:
        return rng.choice(odd if rng.random() < 0.08 else valid)

    event: dict[str, Any] = {
        "event_id": pick([f"{rng.getrandbits(128):032x}", "a.b:c-d_e"], ["", "a b", "x\n"]),
        "ts": _ts(rng),
        "schema_version": pick([1], [2, "1"]),
        "type": pick(["prediction"], ["trade_outcome"]),
        "ticker": pick(["TCS.NS", "M&M.NS"], ["tcs.ns", " TCS.NS", "TCS.NS\n", "A" * 25]),
        "ml_verdict": pick([*VERDICTS, None], ["BUY"]),
        "ml_confidence": pick([None, 0.5, 0, 1], [1.0000001, "0.5", True]),
        "rule_verdict": pick(VERDICTS, [None]),
        "final_verdict": pick(VERDICTS, ["BUY"]),
        "verdict_source": pick(["ml", "rule"], ["ML"]),
        "features": None,
        "model_version": pick([None, "v3"], ["", "x" * 65]),
    }
    if rng.random() < 0.5:
        names = ["rsi_14", "label", "=x", "é ✓", "x" * 65, "", "label_"]
        event["features"] = {
            (rng.choice(names) if rng.random() < 0.05 else f"f{i}"): pick(
                [round(rng.uniform(-50, 150), 4), 0, 1e-30, 1e300], ["1.5", None, True]
            )
            for i in range(rng.choice([0, 1, 10, 257]))
        }
    if rng.random() < 0.05:
        event.pop(rng.choice(list(event)))
    if rng.random() < 0.05:
        event["extra"] = 1
    return event


def test_msgspec_accepts_only_what_pydantic_accepts_and_builds_the_same_event() -> None:
    rng = random.Random(7)
    fast_count = 0
    for _ in range(4_000):
        raw = json.dumps(_event(rng), ensure_ascii=rng.random() < 0.5).encode()
        fast = fast_prediction(raw, max_clock_skew_s=3600.0)
        if fast is None:
            continue
        fast_count += 1
        slow = parse_event(raw)  # raises if pydantic refuses what msgspec took
        assert slow == fast
        assert {k: type(v) for k, v in slow.__dict__.items()} == {
            k: type(v) for k, v in fast.__dict__.items()
        }
        assert slow.ts.isoformat() == fast.ts.isoformat()
        assert slow.model_dump_json() == fast.model_dump_json()
        assert event_json(fast) == slow.model_dump_json().encode()
    assert fast_count > 100


def test_what_the_sdk_publishes_takes_the_fast_path() -> None:
    events = [make_prediction(ticker=f"T{i}.NS") for i in range(50)]
    for event in events:
        fast = fast_prediction(event_json(event), max_clock_skew_s=3600.0)
        assert fast == event


def test_what_msgspec_refuses_is_decided_and_explained_by_pydantic() -> None:
    event = json.loads(make_prediction(ticker="TCS.NS").model_dump_json())
    lower = json.dumps(event | {"ticker": " tcs.ns"}).encode()
    assert fast_prediction(lower, max_clock_skew_s=3600.0) is None
    decoded = decode_entry(StreamName.PREDICTIONS, {b"event": lower}, max_clock_skew_s=3600.0)
    assert isinstance(decoded, Prediction) and decoded.ticker == "TCS.NS"
    reserved = json.dumps(event | {"features": {"label": 1.0}}).encode()
    try:
        decode_entry(StreamName.PREDICTIONS, {b"event": reserved}, max_clock_skew_s=3600.0)
    except DecodeError as e:
        assert e.reason == (
            "invalid field 'features': feature name 'label' is reserved "
            "(the training data's label column)"
        )
    else:
        raise AssertionError("a reserved feature name was accepted")


def _reference_row(event: Prediction) -> str:
    """The CSV row as csv.writer wrote it before the fast path."""
    buffer = io.StringIO()
    agreement = event.agrees
    csv.writer(buffer, lineterminator="\n").writerow(
        [
            safe_cell(event.event_id),
            event.ts.isoformat(),
            event.ticker,
            event.ml_verdict.value if event.ml_verdict else "",
            "" if event.ml_confidence is None else repr(event.ml_confidence),
            event.rule_verdict.value,
            event.final_verdict.value,
            event.verdict_source.value,
            "" if agreement is None else str(agreement).lower(),
            safe_cell(event.model_version or ""),
            json.dumps(event.features, separators=(",", ":")) if event.features else "",
        ]
    )
    return buffer.getvalue()


def test_csv_rows_and_feature_json_are_those_of_csv_writer_and_json_dumps() -> None:
    rng = random.Random(3)
    rows = CsvRows()
    checked = 0
    for _ in range(3_000):
        text = "".join(rng.choice(ODD_TEXT) for _ in range(rng.randint(1, 6)))
        values = [1.5, -0.0, 1e-7, 1e-4, 1e20, 3.0, round(rng.uniform(-50, 150), 4)]
        features = {
            rng.choice([text, f"f{i}"]): rng.choice(values) for i in range(rng.randint(0, 4))
        }
        try:
            event = make_prediction(
                event_id=rng.choice(["-abc", "abc", "=x", "a.b:c"]),
                ts=datetime.now(UTC).astimezone(timezone(timedelta(hours=5, minutes=30))),
                model_version=rng.choice([None, "v3", text]),
                features=features or None,
            )
        except ValueError:
            continue
        checked += 1
        assert rows.row(event) == _reference_row(event)
        if event.features:
            assert features_json(event.features) == json.dumps(
                event.features, separators=(",", ":")
            )
    assert checked > 1_000
