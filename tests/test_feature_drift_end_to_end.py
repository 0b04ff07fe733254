"""Feature drift end to end: predictions with features published through the SDK, counted
by `mlmon worker --burst`, checked in `mlmon status --json`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import redis
from helpers import run_mlmon, status_json
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from producer_sdk import Prediction, Publisher
from worker.counters.features import feature_histograms
from worker.counters.windows import window_counters
from worker.keys import Keys
from worker.settings import Settings
from worker.status.exporter import make_registry

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
    # the baseline recorded every feature's bins: 2,000 values each
    shown = json.loads(run_mlmon("baseline", "show", env=env).stdout)
    assert {name: f["values"] for name, f in shown["features"].items()} == dict.fromkeys(
        FEATURES, 2_000
    )
    assert not any(field.startswith("f:") for field in shown["counters"])


HOSTILE = [
    "a,b",
    "x:y:1",
    "line\nbreak",
    'quo"te\\',
    "label_",
    "é ✓",
    "<script>x</script>",
    "z" * 64,
]


def test_hostile_feature_names_survive_counters_status_and_prometheus(
    publisher: Publisher, env: dict[str, str], client: redis.Redis, settings: Settings
) -> None:
    rng = np.random.default_rng(2)
    now = datetime.now(UTC)
    publisher.publish_many(
        [
            Prediction(
                ticker="TCS.NS",
                ts=now - timedelta(minutes=1),
                rule_verdict="buy",
                final_verdict="buy",
                verdict_source="rule",
                features={name: float(rng.normal()) for name in HOSTILE},
            )
            for _ in range(50)
        ]
    )
    burst = run_mlmon("worker", "--burst", "--groups", "metrics", env=env)
    assert burst.returncode == 0, burst.stderr

    features = status_json(env)["features"]
    assert features["monitored"] == sorted(HOSTILE)
    hour = window_counters(client, Keys(settings.prefix), "24h")
    assert set(feature_histograms(hour)) == set(HOSTILE)
    assert all(sum(h.values()) == 50 for h in feature_histograms(hour).values())
    text = run_mlmon("status", env=env).stdout
    assert "line\nbreak" not in text
    exposition = generate_latest(make_registry(client, settings)).decode()
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    assert families["mlmon_features_monitored"].samples[0].value == len(HOSTILE)


def test_the_monitored_set_stops_at_its_cap(
    publisher: Publisher, env: dict[str, str], client: redis.Redis, settings: Settings
) -> None:
    env = {**env, "ML_FEATURES_MONITORED": "3"}
    now = datetime.now(UTC)
    publisher.publish_many(
        [
            Prediction(
                ticker="TCS.NS",
                ts=now - timedelta(minutes=1),
                rule_verdict="buy",
                final_verdict="buy",
                verdict_source="rule",
                features={f"n{i + j}": 1.0 for j in range(3)},
            )
            for i in range(20)
        ]
    )
    burst = run_mlmon("worker", "--burst", "--groups", "metrics", env=env)
    assert burst.returncode == 0, burst.stderr
    assert client.smembers(Keys(settings.prefix).features_monitored) == {b"n0", b"n1", b"n2"}
    hour = window_counters(client, Keys(settings.prefix), "24h")
    assert set(feature_histograms(hour)) == {"n0", "n1", "n2"}
    assert hour["features_unmonitored"] == 19
