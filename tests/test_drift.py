"""Drift: each statistic against a reference computation, the insufficient-data rule,
the automatic baseline, and detection of a real shift (and no alarm without one)."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from helpers import run_mlmon
from scipy.stats import chi2

from producer_sdk import Prediction, Publisher
from worker.drift.checks import DriftConfig, chi_square, page_hinkley_reference, psi, run_checks
from worker.settings import Settings

SHIFT_AT = 600
DELTA, LAMBDA = 0.01, 5.0


def confidence_stream(
    count: int, *, seed: int, shift_at: int | None, drop: float = 0.2
) -> list[float]:
    rng = random.Random(seed)
    values = []
    for i in range(count):
        mean = 0.82 - (drop if shift_at is not None and i >= shift_at else 0.0)
        values.append(min(1.0, max(0.0, rng.gauss(mean, 0.07))))
    return values


def predictions_from(confidences: list[float], *, version: str, seed: int) -> list[Prediction]:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(minutes=50)
    out = []
    for i, confidence in enumerate(confidences):
        rule = rng.choice(["strong_buy", "buy", "watch", "avoid"])
        degraded = confidence < 0.7
        ml = rng.choice(["strong_buy", "buy", "watch", "avoid"]) if degraded else rule
        out.append(
            Prediction(
                ticker="TCS.NS",
                ts=start + timedelta(seconds=i),
                ml_verdict=ml,
                ml_confidence=round(confidence, 6),
                rule_verdict=rule,
                final_verdict=ml,
                verdict_source="ml",
                model_version=version,
            )
        )
    return out


def test_psi_equals_the_direct_formula() -> None:
    expected, actual = [120, 80, 0, 40], [60, 100, 30, 10]
    e = [(c + 0.5) / (sum(expected) + 2) for c in expected]
    a = [(c + 0.5) / (sum(actual) + 2) for c in actual]
    assert psi(expected, actual) == pytest.approx(
        sum((x - y) * math.log(x / y) for x, y in zip(a, e, strict=True))
    )
    assert psi(expected, expected) == pytest.approx(0.0)


def test_chi_square_equals_scipy() -> None:
    expected, actual = [300, 200, 150, 350], [80, 70, 20, 130]
    statistic, p_value = chi_square(expected, actual)
    proportions = [(c + 0.5) / (sum(expected) + 2) for c in expected]
    reference = sum(
        (o - p * sum(actual)) ** 2 / (p * sum(actual))
        for o, p in zip(actual, proportions, strict=True)
    )
    assert statistic == pytest.approx(reference)
    assert p_value == pytest.approx(chi2.sf(reference, 3))


def test_an_empty_window_is_insufficient_data_not_an_error() -> None:
    baseline = {"predictions": 500, "final:buy": 300, "final:avoid": 200}
    report = run_checks(baseline, {}, None, DriftConfig())
    assert report["severity"] == "insufficient data"
    assert chi_square([300, 200, 0, 0], [0, 0, 0, 0]) == (0.0, 1.0)


def test_no_verdict_below_the_sample_minimum() -> None:
    baseline = {
        "predictions": 1_000,
        "final:buy": 1_000,
        "ml_used": 900,
        "compared": 1_000,
        "agreed": 700,
    }
    current = {"predictions": 99, "final:avoid": 99, "ml_used": 10, "compared": 99, "agreed": 5}
    report = run_checks(baseline, current, None, DriftConfig(min_samples=100))
    assert report["severity"] == "insufficient data" and not report["drift_detected"]
    assert {c["status"] for c in report["checks"].values()} == {"insufficient data"}
    enough = run_checks(
        baseline, {**current, "predictions": 100}, None, DriftConfig(min_samples=100)
    )
    assert enough["checks"]["usage_drop"]["status"] == "critical"
    assert enough["checks"]["verdict_psi"]["status"] == "critical"


def test_page_hinkley_false_alarm_rate_on_stable_streams_is_below_one_percent() -> None:
    alarms = 0
    for seed in range(300):
        state = page_hinkley_reference(confidence_stream(1_200, seed=seed, shift_at=None), DELTA)
        score = max(state["up_sum"] - state["up_min"], state["down_max"] - state["down_sum"])
        alarms += score > LAMBDA
    assert alarms / 300 <= 0.01


def test_page_hinkley_finds_a_shift_within_a_bounded_number_of_events() -> None:
    delays = []
    for seed in range(100):
        values = confidence_stream(1_200, seed=seed, shift_at=SHIFT_AT)
        for end in range(SHIFT_AT, len(values)):
            state = page_hinkley_reference(values[: end + 1], DELTA) if end % 5 == 0 else None
            if state and state["down_max"] - state["down_sum"] > LAMBDA:
                delays.append(end - SHIFT_AT)
                break
    assert len(delays) == 100 and max(delays) <= 80


@pytest.fixture
def drift_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "ML_BASELINE_SAMPLES": "500", "ML_DRIFT_WINDOW": "1h", "MLMON_BATCH_SIZE": "50"}


def drift_of(env: dict[str, str]) -> dict:
    result = run_mlmon("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["drift"]


def test_a_shift_in_confidence_goes_critical_and_a_stable_stream_stays_ok(
    publisher: Publisher, client: redis.Redis, settings: Settings, drift_env: dict[str, str]
) -> None:
    stable = confidence_stream(1_200, seed=7, shift_at=None)
    publisher.publish_many(predictions_from(stable, version="v1", seed=1))
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=drift_env).returncode == 0
    report = drift_of(drift_env)
    assert report["baseline"]["model_version"] == "v1"
    assert report["baseline"]["source"].startswith("first ")
    assert report["checks"]["page_hinkley"]["status"] == "ok"
    assert report["checks"]["confidence_drop"]["status"] == "ok"
    assert not report["drift_detected"], report

    shifted = confidence_stream(1_200, seed=8, shift_at=0)
    publisher.publish_many(predictions_from(shifted, version="v1", seed=2))
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=drift_env).returncode == 0
    report = drift_of(drift_env)
    assert report["drift_detected"] and report["severity"] == "critical"
    assert report["checks"]["page_hinkley"]["status"] == "critical"
    assert report["checks"]["page_hinkley"]["direction"] == "down"
    assert report["checks"]["confidence_psi"]["status"] == "critical"
    assert report["checks"]["agreement_drop"]["status"] in {"warn", "critical"}
    # the detector state in Redis equals the reference over every value fed after the baseline
    state = {
        k.decode(): float(v)
        for k, v in client.hgetall(f"{settings.prefix}:drift:page_hinkley").items()
    }
    # the baseline was set after its first 500 predictions (ML_BASELINE_SAMPLES, ten
    # batches of 50), which started the detector afresh
    fed = [round(value, 6) for value in (stable + shifted)[500:]]
    assert state == pytest.approx(page_hinkley_reference(fed, settings.ph_delta), rel=1e-9)


def test_baseline_set_and_show(publisher: Publisher, drift_env: dict[str, str]) -> None:
    assert run_mlmon("baseline", "show", env=drift_env).returncode == 1
    assert (
        run_mlmon("baseline", "set", "--window", "1h", env=drift_env).returncode == 2
    )  # nothing yet
    publisher.publish_many(
        predictions_from(confidence_stream(150, seed=3, shift_at=None), version="v9", seed=3)
    )
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=drift_env).returncode == 0
    made = run_mlmon("baseline", "set", "--window", "1h", env=drift_env)
    assert made.returncode == 0 and "from 150 predictions" in made.stdout
    shown = json.loads(run_mlmon("baseline", "show", env=drift_env).stdout)
    assert shown["metrics"]["total_predictions"] == 150
    assert shown["model_version"] == "v9"


def test_detect_drift_takes_a_metrics_dict_as_the_original_did(
    publisher: Publisher,
    client: redis.Redis,
    settings: Settings,
    drift_env: dict[str, str],
    tmp_path: Path,
) -> None:
    from worker.drift.report import detect_drift

    publisher.publish_many(
        predictions_from(confidence_stream(200, seed=4, shift_at=0, drop=0.3), version="v2", seed=4)
    )
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=drift_env).returncode == 0
    one_hour = settings.replace(drift_window="1h")
    report = detect_drift(
        {"avg_ml_confidence": 0.85, "agreement_rate": 0.7, "ml_usage_rate": 1.0},
        client=client,
        settings=one_hour,
    )
    assert report["drift_detected"]
    assert report["checks"]["confidence_drop"]["status"] == "critical"
    assert report["checks"]["verdict_psi"]["status"] == "insufficient data"  # no distribution given
