"""Expected accuracy, realized accuracy and calibration error in `mlmon status --json`,
against a direct computation over the same predictions and outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from helpers import run_mlmon, status_json

from producer_sdk import Prediction, Publisher, TradeOutcome
from worker.drift.accuracy import AccuracyConfig, run_accuracy_checks

IST = ZoneInfo("Asia/Kolkata")
VERDICTS = ["strong_buy", "buy", "watch", "avoid"]


def test_status_accuracy_equals_a_direct_computation(
    publisher: Publisher, env: dict[str, str]
) -> None:
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    predictions, outcomes = [], []
    for i in range(300):
        verdict = str(rng.choice(VERDICTS))
        confidence = round(float(rng.uniform(0.3, 1.0)), 4)
        prediction = Prediction(
            ticker=f"T{i}.NS",
            ts=now - timedelta(hours=2, minutes=i % 50),
            ml_verdict=verdict,
            ml_confidence=confidence,
            rule_verdict=str(rng.choice(VERDICTS)),
            final_verdict=verdict,
            verdict_source="ml",
        )
        predictions.append(prediction)
        if i % 3:  # two thirds get an outcome, joined by id
            outcomes.append(
                TradeOutcome(
                    ticker=prediction.ticker,
                    prediction_id=prediction.event_id,
                    prediction_date=prediction.ts.astimezone(IST).date(),
                    actual_outcome=str(rng.choice(["profit", "loss", "neutral"])),
                    pnl_pct=1.0,
                    holding_days=3,
                )
            )
    publisher.publish_many(predictions)
    publisher.publish_many(outcomes)
    burst = run_mlmon("worker", "--burst", "--groups", "metrics,feedback", env=env)
    assert burst.returncode == 0, burst.stderr

    by_id = {p.event_id: p for p in predictions}
    pairs = []
    for outcome in outcomes:
        p = by_id[outcome.prediction_id]  # type: ignore[index]
        right = (outcome.actual_outcome.value == "profit") == (
            p.ml_verdict.value in ("strong_buy", "buy")
        )  # type: ignore[union-attr]
        pairs.append((p.ml_confidence, right))
    confidences = np.array([c for c, _ in pairs])
    rights = np.array([r for _, r in pairs], dtype=float)
    bins = np.minimum((confidences * 10).astype(int), 9)
    ece = sum(
        abs(rights[bins == b].sum() - confidences[bins == b].sum()) / len(pairs) for b in range(10)
    )

    accuracy = status_json(env)["accuracy"]
    assert accuracy["outcomes"] == len(pairs)
    assert abs(accuracy["expected_accuracy"] - confidences.mean()) < 1e-6
    assert abs(accuracy["realized_accuracy"] - rights.mean()) < 1e-12
    assert abs(accuracy["calibration_error"] - ece) < 1e-6
    assert accuracy["checks"]["calibration_error"]["status"] in ("ok", "warn")


def test_accuracy_checks_need_enough_outcomes_and_flag_ml_below_rules() -> None:
    few = {"ml:n": 50, "ml:right": 10, "rule:n": 50, "rule:right": 40, "calib:n": 50}
    checks = run_accuracy_checks(few, few, AccuracyConfig())["checks"]
    assert {c["status"] for c in checks.values()} == {"insufficient data"}
    many = {"ml:n": 500, "ml:right": 200, "rule:n": 500, "rule:right": 350}
    reference = {"ml:n": 2000, "ml:right": 1400, "rule:n": 2000, "rule:right": 1400}
    checks = run_accuracy_checks(many, reference, AccuracyConfig())["checks"]
    assert checks["ml_below_rules"]["status"] == "warn"
    assert checks["ml_accuracy_drop"]["status"] == "warn"
    assert checks["ml_accuracy_drop"]["value"] == 0.7 - 0.4
