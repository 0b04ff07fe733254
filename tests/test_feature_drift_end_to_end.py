"""Feature drift end to end: predictions with features published through the SDK, counted
by `mlmon worker --burst`, checked in `mlmon status --json`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from helpers import run_mlmon, status_json

from producer_sdk import Prediction, Publisher

FEATURES = [f"feature_{i}" for i in range(10)]
SHIFTED, MISSING = "feature_3", "feature_7"
ALARMS = ("warn", "critical")


def featured_predictions(
    rng: np.random.Generator, count: int, *, hours_ago: float, changed: bool
) -> list[Prediction]:
    """`count` predictions over the 50 minutes ending `hours_ago` ago, 10 features each
    with their own scale; `changed`: SHIFTED's mean moves by one sd, MISSING is left out
    of 30 % of the predictions."""
    end = datetime.now(UTC) - timedelta(hours=hours_ago)
    means = np.arange(1, len(FEATURES) + 1) * 10.0
    sds = np.arange(1, len(FEATURES) + 1) * 2.0
    out = []
    for i in range(count):
        values = rng.normal(means, sds)
        features = {name: float(v) for name, v in zip(FEATURES, values, strict=True)}
        if changed:
            features[SHIFTED] += float(sds[FEATURES.index(SHIFTED)])
            if rng.random() < 0.3:
                del features[MISSING]
        out.append(
            Prediction(
                ticker="TCS.NS",
                ts=end - timedelta(minutes=50) * (1 - i / count),
                ml_verdict="buy",
                ml_confidence=0.8,
                rule_verdict="buy",
                final_verdict="buy",
                verdict_source="ml",
                features=features,
                model_version="v1",
            )
        )
    return out


def test_a_shifted_feature_is_drift_and_a_missing_one_data_quality(
    publisher: Publisher, env: dict[str, str]
) -> None:
    env = {**env, "ML_BASELINE_SAMPLES": "2000", "ML_DRIFT_WINDOW": "1h", "MLMON_BATCH_SIZE": "500"}
    rng = np.random.default_rng(14)
    publisher.publish_many(featured_predictions(rng, 2_000, hours_ago=2, changed=False))
    publisher.publish_many(featured_predictions(rng, 2_000, hours_ago=0, changed=True))
    burst = run_mlmon("worker", "--burst", "--groups", "metrics", env=env)
    assert burst.returncode == 0, burst.stderr

    features = status_json(env)["features"]
    assert features["baseline_featured"] == 2_000
    assert features["window_featured"] == 2_000
    assert features["monitored"] == sorted(FEATURES)
    assert features["drifted"] == [SHIFTED]
    assert [(f["feature"], f["check"]) for f in features["quality_failures"]] == [
        (MISSING, "missing")
    ]
    flagged = {row["feature"] for row in features["features"] if row["status"] in ALARMS}
    assert flagged == {SHIFTED, MISSING}
    row = {r["feature"]: r for r in features["features"]}
    assert row[MISSING]["drift_status"] == "ok"
    assert abs(row[MISSING]["missing_share"] - 0.3) < 0.05
    assert row[SHIFTED]["quality_status"] == "ok"

    text = run_mlmon("status", env=env)
    assert text.returncode == 0, text.stderr
    assert "FEATURES" in text.stdout and f"Drifted features: {SHIFTED}" in text.stdout
    assert f"Data quality WARN: missing ({MISSING})" in text.stdout
