"""Validation rules of the event models: each with an accepted and a rejected example."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import make_prediction, run_mlmon
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from producer_sdk import (
    AnalysisCompleted,
    BacktestCompleted,
    Prediction,
    TradeOutcome,
    Verdict,
    parse_event,
)
from producer_sdk.events import MAX_FEATURES


@pytest.mark.parametrize("ticker", ["RELIANCE.NS", "TCS.BO", "AAPL", "M&M.NS", "BAJAJ-AUTO.NS"])
def test_ticker_accepted(ticker: str) -> None:
    assert make_prediction(ticker=ticker).ticker == ticker


def test_ticker_normalized_to_upper_case() -> None:
    assert make_prediction(ticker=" reliance.ns ").ticker == "RELIANCE.NS"


@pytest.mark.parametrize("ticker", ["", "RELIANCE NS", "REL.IANCE.NS", ".NS", "X" * 30, "TCS.B0"])
def test_ticker_rejected(ticker: str) -> None:
    with pytest.raises(ValidationError, match="ticker"):
        make_prediction(ticker=ticker)


@pytest.mark.parametrize("confidence", [0.0, 0.5, 1.0])
def test_confidence_in_range_accepted(confidence: float) -> None:
    assert make_prediction(ml_confidence=confidence).ml_confidence == confidence


@pytest.mark.parametrize("confidence", [-0.01, 1.01, float("nan"), float("inf")])
def test_confidence_out_of_range_rejected(confidence: float) -> None:
    with pytest.raises(ValidationError, match="ml_confidence"):
        make_prediction(ml_confidence=confidence)


def test_aware_timestamp_accepted_and_naive_rejected() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert make_prediction(ts=datetime(2026, 1, 5, 10, 0, tzinfo=ist)).ts.utcoffset() == timedelta(
        hours=5, minutes=30
    )
    with pytest.raises(ValidationError, match="timezone"):
        make_prediction(ts=datetime(2026, 1, 5, 10, 0))


def test_ml_source_requires_ml_verdict() -> None:
    assert (
        make_prediction(ml_verdict=None, ml_confidence=None, verdict_source="rule").agrees is None
    )
    with pytest.raises(ValidationError, match="requires an ml_verdict"):
        make_prediction(ml_verdict=None, ml_confidence=None, verdict_source="ml")


def test_confidence_without_ml_verdict_rejected() -> None:
    with pytest.raises(ValidationError, match="without an ml_verdict"):
        make_prediction(ml_verdict=None, ml_confidence=0.7, verdict_source="rule")


def test_unknown_verdict_rejected() -> None:
    assert make_prediction(rule_verdict="strong_buy").rule_verdict is Verdict.STRONG_BUY
    with pytest.raises(ValidationError, match="rule_verdict"):
        make_prediction(rule_verdict="sell")


def test_features_bounded_and_finite() -> None:
    features = {f"f{i}": float(i) for i in range(MAX_FEATURES)}
    assert make_prediction(features=features).features == features
    with pytest.raises(ValidationError, match="features"):
        make_prediction(features={f"f{i}": 1.0 for i in range(MAX_FEATURES + 1)})
    with pytest.raises(ValidationError, match="features"):
        make_prediction(features={"rsi": float("nan")})
    with pytest.raises(ValidationError, match="features"):
        make_prediction(features={"x" * 65: 1.0})


def test_strings_bounded() -> None:
    assert make_prediction(model_version="v" * 64).model_version == "v" * 64
    with pytest.raises(ValidationError, match="model_version"):
        make_prediction(model_version="v" * 65)


def test_unknown_field_rejected() -> None:
    with pytest.raises(ValidationError, match="confidence"):
        make_prediction(confidence=0.3)


def test_event_id_format() -> None:
    assert make_prediction(event_id="pipeline-2026:001").event_id == "pipeline-2026:001"
    with pytest.raises(ValidationError, match="event_id"):
        make_prediction(event_id="has spaces")


def test_analysis_completed_rules() -> None:
    event = AnalysisCompleted(batch_id="b1", n_stocks=60, duration_s=12.5, tickers=["tcs.ns"])
    assert event.tickers == ["TCS.NS"]
    with pytest.raises(ValidationError, match="n_stocks"):
        AnalysisCompleted(batch_id="b1", n_stocks=-1, duration_s=1.0)
    with pytest.raises(ValidationError, match="duration_s"):
        AnalysisCompleted(batch_id="b1", n_stocks=1, duration_s=float("inf"))


def test_backtest_completed_rules() -> None:
    event = BacktestCompleted(backtest_id="bt", n_trades=10, win_rate=0.6, total_return_pct=-3.5)
    assert event.total_return_pct == -3.5
    with pytest.raises(ValidationError, match="win_rate"):
        BacktestCompleted(backtest_id="bt", n_trades=10, win_rate=1.5, total_return_pct=1.0)


def test_trade_outcome_rules() -> None:
    event = TradeOutcome(
        ticker="TCS.NS",
        prediction_date="2026-01-15",
        actual_outcome="profit",
        pnl_pct=8.5,
        holding_days=10,
    )
    assert event.prediction_date == date(2026, 1, 15)
    with pytest.raises(ValidationError, match="actual_outcome"):
        TradeOutcome(
            ticker="TCS.NS",
            prediction_date="2026-01-15",
            actual_outcome="win",
            pnl_pct=8.5,
            holding_days=10,
        )
    with pytest.raises(ValidationError, match="holding_days"):
        TradeOutcome(
            ticker="TCS.NS",
            prediction_date="2026-01-15",
            actual_outcome="loss",
            pnl_pct=-2.0,
            holding_days=-1,
        )


verdicts = st.sampled_from(list(Verdict))
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


feature_names = st.text(min_size=1, max_size=20).filter(
    lambda name: name != "label" and not name.startswith(("=", "+", "-", "@", "\t", "\r"))
)


@st.composite
def predictions(draw: st.DrawFn) -> Prediction:
    ml = draw(st.none() | verdicts)
    fields: dict[str, Any] = {
        "ticker": draw(st.from_regex(r"[A-Z][A-Z0-9]{0,9}(\.(NS|BO))?", fullmatch=True)),
        "ts": draw(
            st.datetimes(
                min_value=datetime(1971, 1, 2),
                max_value=datetime(2026, 1, 1),
                timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
            )
        ),
        "ml_verdict": ml,
        "ml_confidence": None if ml is None else draw(st.floats(0, 1)),
        "rule_verdict": draw(verdicts),
        "final_verdict": draw(verdicts),
        "verdict_source": "rule" if ml is None else draw(st.sampled_from(["ml", "rule"])),
        "features": draw(st.none() | st.dictionaries(feature_names, finite, max_size=8)),
        "model_version": draw(st.none() | st.text(min_size=1, max_size=20)),
    }
    return Prediction(**fields)


@given(predictions())
def test_prediction_json_round_trip(event: Prediction) -> None:
    assert parse_event(event.model_dump_json()) == event


@given(
    st.builds(
        TradeOutcome,
        ticker=st.just("INFY.NS"),
        prediction_date=st.dates(date(1971, 1, 1), date(9000, 1, 1)),
        actual_outcome=st.sampled_from(["profit", "loss", "neutral"]),
        pnl_pct=st.floats(-100, 1000),
        holding_days=st.integers(0, 3650),
        ml_verdict=st.none() | verdicts,
    )
)
def test_outcome_json_round_trip(event: TradeOutcome) -> None:
    assert parse_event(event.model_dump_json()) == event


def test_schema_command_prints_every_event(env: dict[str, str]) -> None:
    result = run_mlmon("schema", env=env)
    assert result.returncode == 0, result.stderr
    schemas = json.loads(result.stdout)
    assert set(schemas) == {
        "prediction",
        "ANALYSIS_COMPLETED",
        "BACKTEST_COMPLETED",
        "trade_outcome",
    }
    assert "ml_confidence" in schemas["prediction"]["properties"]
    assert schemas["prediction"]["properties"]["ml_confidence"]["anyOf"][0]["maximum"] == 1.0


@pytest.mark.parametrize(
    ("ts", "why"),
    [
        ("9999-12-31T23:59:59+00:00", "in the future"),
        ("9999-12-31T23:59:59-05:00", "out of range in UTC"),
        ("0001-01-01T00:00:00+05:30", "out of range in UTC"),
        ("1970-12-31T23:59:59+00:00", "before 1971-01-01"),
    ],
)
def test_extreme_ts_rejected_with_its_reason(ts: str, why: str) -> None:
    event = json.dumps({**json.loads(make_prediction().model_dump_json()), "ts": ts})
    with pytest.raises(ValidationError, match=why):
        parse_event(event)
    with pytest.raises(ValidationError, match=why):  # the producer hears it first
        make_prediction(ts=datetime.fromisoformat(ts))


def test_ts_ahead_by_clock_skew_only() -> None:
    ahead = datetime.now(UTC) + timedelta(days=30)
    event = json.dumps({**json.loads(make_prediction().model_dump_json()), "ts": ahead.isoformat()})
    with pytest.raises(ValidationError, match="clock skew"):
        parse_event(event)
    assert parse_event(event, max_clock_skew_s=31 * 86_400).ts == ahead
    assert make_prediction(ts=datetime.now(UTC) + timedelta(minutes=5)).ts > datetime.now(UTC)
