"""Group `feedback`: joins, scoring, exactly-once rows, labelled rows for training."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from helpers import csv_rows, make_prediction, random_predictions, run_mlmon
from pydantic import ValidationError

from producer_sdk import Prediction, Publisher, StreamName, TradeOutcome
from worker.consumer.codec import Delivery
from worker.groups.feedback import FeedbackHandler
from worker.retraining.training import parse_training_csv
from worker.retraining.training_rows import TrainingRowsError, append_training_rows
from worker.settings import Settings
from worker.status.snapshot import get_feedback_summary

IST = ZoneInfo("Asia/Kolkata")
BULLISH = {"strong_buy", "buy"}


def outcome_for(prediction: Prediction, **overrides: Any) -> TradeOutcome:
    fields: dict[str, Any] = {
        "ticker": prediction.ticker,
        "prediction_date": prediction.ts.astimezone(IST).date(),
        "actual_outcome": "profit",
        "pnl_pct": 4.0,
        "holding_days": 5,
    }
    fields.update(overrides)
    return TradeOutcome(**fields)


def drain(env: dict[str, str]) -> None:
    result = run_mlmon("worker", "--burst", "--groups", "feedback", env=env)
    assert result.returncode == 0, result.stderr


def feedback_rows(home: Path) -> list[dict[str, str]]:
    return csv_rows(home / "data" / "ml_feedback.csv")


def feedback_status(env: dict[str, str]) -> dict[str, Any]:
    result = run_mlmon("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    feedback: dict[str, Any] = json.loads(result.stdout)["feedback"]
    return feedback


def test_join_by_prediction_id(publisher: Publisher, env: dict[str, str], home: Path) -> None:
    prediction = make_prediction(
        ml_verdict="buy",
        rule_verdict="avoid",
        final_verdict="buy",
        ml_confidence=0.91,
        model_version="v4",
    )
    publisher.publish(prediction)
    outcome = outcome_for(
        prediction, prediction_id=prediction.event_id, actual_outcome="loss", pnl_pct=-3.2
    )
    publisher.publish(outcome)
    drain(env)

    [row] = feedback_rows(home)
    assert row["outcome_id"] == outcome.event_id
    assert row["prediction_id"] == prediction.event_id
    assert row["joined_by"] == "id"
    assert (row["ml_verdict"], row["rule_verdict"], row["final_verdict"]) == ("buy", "avoid", "buy")
    assert (row["ml_confidence"], row["model_version"]) == ("0.91", "v4")
    assert (row["actual_outcome"], row["pnl_pct"], row["holding_days"]) == ("loss", "-3.2", "5")


def test_join_by_ticker_and_date_takes_the_latest_prediction_of_the_day(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    morning = ten_days_ago.replace(hour=4, minute=0, second=0, microsecond=0)  # 09:30 IST
    later = make_prediction(ticker="TCS.NS", ts=morning + timedelta(hours=5), rule_verdict="buy")
    earlier = make_prediction(ticker="TCS.NS", ts=morning, rule_verdict="avoid")
    other_day = make_prediction(
        ticker="TCS.NS", ts=morning + timedelta(days=1), rule_verdict="watch"
    )
    publisher.publish_many([later, earlier, other_day])  # arrival order is not time order
    publisher.publish(outcome_for(earlier, ts=morning + timedelta(days=6)))
    drain(env)

    [row] = feedback_rows(home)
    assert row["prediction_id"] == later.event_id
    assert row["joined_by"] == "ticker_date"
    assert row["rule_verdict"] == "buy"
    assert row["label_delay_days"] == "6"


def test_unmatched_outcome_with_verdicts_is_scored_on_them(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    outcome = TradeOutcome(
        ticker="INFY.NS",
        prediction_date=date(2025, 1, 15),
        ml_verdict="buy",
        rule_verdict="watch",
        final_verdict="buy",
        actual_outcome="profit",
        pnl_pct=8.5,
        holding_days=10,
    )
    publisher.publish(outcome)
    drain(env)

    [row] = feedback_rows(home)
    assert (row["joined_by"], row["prediction_id"], row["ml_verdict"]) == ("none", "", "buy")
    feedback = feedback_status(env)
    assert (feedback["unmatched"], feedback["joined"]) == (1, 0)
    assert feedback["ml_accuracy"] == 1.0 and feedback["rule_accuracy"] == 0.0


def test_unmatched_outcome_without_verdicts_goes_to_the_dead_stream(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    good = make_prediction()
    publisher.publish(good)
    orphan = TradeOutcome(
        ticker="WIPRO.NS",
        prediction_date=date(2025, 1, 15),
        prediction_id="no-such-prediction",
        actual_outcome="loss",
        pnl_pct=-1.0,
        holding_days=2,
    )
    publisher.publish_many([orphan, outcome_for(good, prediction_id=good.event_id)])
    drain(env)

    [(_, letter)] = client.xrange(f"{prefix}:stream:dead")
    assert letter[b"reason"].decode().startswith("no prediction matches")
    assert json.loads(letter[b"entry.event"])["event_id"] == orphan.event_id
    assert [r["prediction_id"] for r in feedback_rows(home)] == [good.event_id]
    assert client.xpending(f"{prefix}:stream:outcomes", "feedback")["pending"] == 0


def expected_scores(pairs: list[tuple[Prediction, TradeOutcome]]) -> dict[str, Any]:
    """Accuracy, precision and pnl per source, computed straight from the events."""
    result: dict[str, Any] = {}
    for scope, keep in (
        ("all", lambda p: True),
        ("disagree", lambda p: p.ml_verdict not in (None, p.rule_verdict)),
    ):
        for source in ("ml", "rule", "final"):
            rows = [
                (getattr(p, f"{source}_verdict").value, o)
                for p, o in pairs
                if keep(p) and getattr(p, f"{source}_verdict") is not None
            ]
            right = sum((v in BULLISH) == (o.actual_outcome.value == "profit") for v, o in rows)
            bullish = [(v, o) for v, o in rows if v in BULLISH]
            pnl = [o.pnl_pct for _, o in bullish]
            result[f"{scope}:{source}"] = {
                "count": len(rows),
                "correct": right,
                "accuracy": right / len(rows),
                "bullish_calls": len(bullish),
                "bullish_precision": sum(o.actual_outcome.value == "profit" for _, o in bullish)
                / len(bullish),
                "bullish_pnl_pct_mean": sum(pnl) / len(pnl),
                "bullish_pnl_pct_total": sum(pnl),
            }
    return result


def test_scores_equal_a_direct_computation(publisher: Publisher, env: dict[str, str]) -> None:
    rng = random.Random(5)
    predictions = random_predictions(3_000, seed=17)
    pairs = []
    for prediction in predictions:
        kind = rng.choice(["profit", "loss", "neutral"])
        pnl = {
            "profit": rng.uniform(0.1, 20),
            "loss": -rng.uniform(0.1, 20),
            "neutral": rng.uniform(-0.3, 0.3),
        }[kind]
        pairs.append(
            (
                prediction,
                outcome_for(
                    prediction,
                    prediction_id=prediction.event_id,
                    actual_outcome=kind,
                    pnl_pct=round(pnl, 4),
                ),
            )
        )
    publisher.publish_many(predictions)
    publisher.publish_many([o for _, o in pairs])
    drain(env)

    feedback = feedback_status(env)
    expected = expected_scores(pairs)
    assert feedback["total_outcomes"] == 3_000
    assert feedback["joined_by_id"] == 3_000
    for source in ("ml", "rule", "final"):
        for scope, got in (
            ("all", feedback["by_source"][source]),
            ("disagree", feedback["disagreements"][source]),
        ):
            want = expected[f"{scope}:{source}"]
            assert got == pytest.approx(want, abs=1e-6), (scope, source)
    assert feedback["ml_accuracy"] == pytest.approx(expected["all:ml"]["accuracy"])
    assert feedback["disagreements"]["count"] == expected["disagree:ml"]["count"]
    assert feedback["windows"]["7d"]["total_outcomes"] == 3_000


def test_duplicate_and_redelivered_outcomes_count_once(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str], home: Path
) -> None:
    predictions = random_predictions(50, seed=2)
    outcomes = [
        outcome_for(p, prediction_id=p.event_id, actual_outcome="loss", pnl_pct=-1.0)
        for p in predictions
    ]
    publisher.publish_many(predictions)
    publisher.publish_many(outcomes)
    publisher.publish_many(outcomes[:20])  # re-published by the producer
    drain(env)
    # the same entries delivered again, as after a crash between commit and ack
    entries = client.xrange(f"{settings.prefix}:stream:outcomes", count=10)
    handler = FeedbackHandler(client, settings)
    deliveries = [Delivery(i.decode(), o, 2) for (i, _), o in zip(entries, outcomes, strict=False)]
    assert handler.handle(StreamName.OUTCOMES, deliveries) == []

    rows = feedback_rows(home)
    assert sorted(r["outcome_id"] for r in rows) == sorted(o.event_id for o in outcomes)
    summary = get_feedback_summary(client, settings)
    assert summary["total_outcomes"] == 50
    assert summary["outcomes"] == {"profit": 0, "loss": 50, "neutral": 0}


def test_outcome_of_a_prediction_with_features_becomes_a_labelled_training_row(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    big_win = make_prediction(features={"rsi_14": 40.5, "pe_ratio": 18.0})
    small_win = make_prediction(features={"rsi_14": 55.0, "pe_ratio": 22.5})
    flat = make_prediction(features={"rsi_14": 61.0})
    loss = make_prediction(features={"pe_ratio": 9.0, "rsi_14": 30.0})
    no_features = make_prediction()
    publisher.publish_many([big_win, small_win, flat, loss, no_features])
    publisher.publish_many(
        [
            outcome_for(big_win, prediction_id=big_win.event_id, pnl_pct=5.0),
            outcome_for(small_win, prediction_id=small_win.event_id, pnl_pct=4.99),
            outcome_for(flat, prediction_id=flat.event_id, actual_outcome="neutral", pnl_pct=0.1),
            outcome_for(loss, prediction_id=loss.event_id, actual_outcome="loss", pnl_pct=-2.0),
        ]
    )
    drain(env)
    assert feedback_status(env)["labelled_rows"] == 4
    publisher.publish(outcome_for(no_features, prediction_id=no_features.event_id))
    drain(env)

    training = (home / "data" / "ml_training_data.csv").read_text().splitlines()
    assert training == [
        "pe_ratio,rsi_14,label",
        "18.0,40.5,strong_buy",
        "22.5,55.0,buy",
        ",61.0,watch",
        "9.0,30.0,avoid",
    ]
    assert feedback_status(env)["labelled_rows"] == 4  # no features, no training row
    labels = [r["label"] for r in feedback_rows(home)]
    assert labels == ["strong_buy", "buy", "watch", "avoid", ""]


def test_prediction_index_is_bounded_in_age(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    fresh = make_prediction()
    too_old = make_prediction(ts=datetime.now(UTC) - timedelta(days=91))
    publisher.publish_many([fresh, too_old])
    drain(env)

    day = fresh.ts.astimezone(IST).date().isoformat()
    old_day = too_old.ts.astimezone(IST).date().isoformat()
    kept = f"{prefix}:feedback:predictions:{day}"
    assert client.hexists(kept, fresh.event_id)
    assert 0 < client.ttl(kept) <= 91 * 86_400  # 90 days after the end of its day
    assert client.exists(f"{prefix}:feedback:predictions:{old_day}") == 0
    latest = client.hget(f"{prefix}:feedback:latest:{day}", fresh.ticker)
    assert latest is not None and latest.decode().endswith(fresh.event_id)


def test_dashboard_shows_feedback(publisher: Publisher, env: dict[str, str]) -> None:
    prediction = make_prediction(ml_verdict="buy", rule_verdict="avoid", final_verdict="buy")
    publisher.publish(prediction)
    publisher.publish(outcome_for(prediction, prediction_id=prediction.event_id, pnl_pct=6.0))
    drain(env)
    text = run_mlmon("status", env=env).stdout
    assert "Outcomes Recorded: 1 (joined 1: 1 by id" in text
    assert "ML Accuracy: 100.0% (1/1)" in text
    assert "Rule Accuracy: 0.0% (0/1)" in text
    assert "ML right 1, rules right 0: ML wins" in text


def test_feature_names_with_commas_keep_the_training_header_aligned(
    publisher: Publisher, env: dict[str, str], home: Path
) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        make_prediction(features={"label": 1.0})
    first = make_prediction(features={"rsi,14": 40.5, 'pe "ttm"': 18.0})
    second = make_prediction(features={"rsi,14": 70.0, 'pe "ttm"': 30.0})
    publisher.publish_many([first, second])
    publisher.publish_many(
        [
            outcome_for(first, prediction_id=first.event_id),
            outcome_for(second, prediction_id=second.event_id, actual_outcome="loss", pnl_pct=-3),
        ]
    )
    drain(env)

    header, *rows = (home / "data" / "ml_training_data.csv").read_text().splitlines(keepends=True)
    dataset = parse_training_csv(header + "".join(rows * 5), source="t")
    assert dataset.feature_names == ['pe "ttm"', "rsi,14"]
    assert dataset.features[:2].tolist() == [[18.0, 40.5], [30.0, 70.0]]


def test_a_broken_training_header_holds_outcomes_pending_until_the_file_is_moved(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    training = home / "data" / "ml_training_data.csv"
    training.parent.mkdir(parents=True)
    training.write_text("rsi,label,pe,label\n1,buy,2,buy\n")  # two label columns
    prediction = make_prediction(features={"rsi": 40.0})
    publisher.publish(prediction)
    publisher.publish(outcome_for(prediction, prediction_id=prediction.event_id))

    held = run_mlmon("worker", "--burst", "--groups", "feedback", env=env)

    assert held.returncode == 1
    assert "broken header (2 'label' columns, expected one)" in held.stderr
    assert f"mv {training} {training}.broken" in held.stderr
    assert client.xpending(f"{prefix}:stream:outcomes", "feedback")["pending"] == 1
    assert client.xlen(f"{prefix}:stream:dead") == 0
    training.rename(training.with_name(training.name + ".broken"))
    drain(env)
    assert training.read_text().splitlines() == ["rsi,label", "40.0,buy"]
    assert [r["outcome_id"] for r in feedback_rows(home)] != []


def test_pipeline_rows_appended_beside_the_feedback_group_are_kept(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str], home: Path
) -> None:
    first, second = (make_prediction(features={"rsi": float(i)}) for i in (1, 2))
    publisher.publish(first)
    publisher.publish(outcome_for(first, prediction_id=first.event_id))
    drain(env)
    added = append_training_rows(
        client, settings, [{"rsi": 10.0, "label": "avoid"}, {"rsi": 11.0, "label": "watch"}]
    )
    publisher.publish(second)
    publisher.publish(outcome_for(second, prediction_id=second.event_id))
    drain(env)

    assert added == 2
    lines = (home / "data" / "ml_training_data.csv").read_text().splitlines()
    assert lines == ["rsi,label", "1.0,buy", "10.0,avoid", "11.0,watch", "2.0,buy"]
    with pytest.raises(TrainingRowsError, match="not in the header"):
        append_training_rows(client, settings, [{"pe": 1.0, "label": "buy"}])
