"""Drift end to end: predictions published through the SDK, counted by `mlmon worker
--burst`, checked as `mlmon status` checks them. Stable streams rarely raise drift; a shift
is seen whether it started before `mlmon baseline set` or after it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import redis
from helpers import run_mlmon, status_json

from benchmarks.drift_streams import AGREED, STABLE, Shift, confidences
from producer_sdk import Prediction, Publisher
from worker.drift.checks import VERDICTS
from worker.drift.report import detect_drift
from worker.retraining.timeline import retraining_timeline
from worker.settings import Settings, load_settings
from worker.status.exporter import status_families
from worker.status.snapshot import build_status

ALARMS = ("warn", "critical")


def predictions(
    rng: np.random.Generator, count: int, *, hours_ago: float, shift: Shift = STABLE, **extra: Any
) -> list[Prediction]:
    """`count` predictions of the calibration's stream, spread over the 50 minutes that end
    `hours_ago` hours ago."""
    end = datetime.now(UTC) - timedelta(hours=hours_ago)
    verdicts = rng.choice(VERDICTS, size=count, p=shift.shares())
    agrees = rng.random(count) < AGREED
    others = rng.integers(1, len(VERDICTS), size=count)
    out = []
    for i, confidence in enumerate(confidences(rng, count, shift)):
        verdict = str(verdicts[i])
        rule = verdict if agrees[i] else VERDICTS[(VERDICTS.index(verdict) + others[i]) % 4]
        out.append(
            Prediction(
                ticker="TCS.NS",
                ts=end - timedelta(minutes=50) * (1 - i / count),
                ml_verdict=verdict,
                ml_confidence=float(confidence),
                rule_verdict=rule,
                final_verdict=verdict,
                verdict_source="ml",
                **extra,
            )
        )
    return out


@pytest.fixture
def deployments(redis_url: str, prefix: str, env: dict[str, str]) -> Iterator[list[dict[str, str]]]:
    """Environments of 20 separate deployments on the test's Redis."""
    envs = [
        {
            **env,
            "MLMON_PREFIX": f"{prefix}d{i}",
            "ML_BASELINE_SAMPLES": "2000",
            "ML_DRIFT_WINDOW": "1h",
            "MLMON_BATCH_SIZE": "500",
        }
        for i in range(20)
    ]
    yield envs
    client = redis.Redis.from_url(redis_url)
    for each in envs:
        keys = list(client.scan_iter(match=f"{each['MLMON_PREFIX']}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    client.close()


def test_stable_streams_raise_drift_in_at_most_one_of_twenty(
    client: redis.Redis, deployments: list[dict[str, str]]
) -> None:
    detected = []
    for seed, env in enumerate(deployments):
        rng = np.random.default_rng(seed)
        publisher = Publisher(client, prefix=env["MLMON_PREFIX"], on_failure="raise")
        # the model's first 2,000 predictions (two hours ago) become its baseline; the
        # next 2,000 fill the 1 h window
        publisher.publish_many(predictions(rng, 2_000, hours_ago=2, model_version="v1"))
        publisher.publish_many(predictions(rng, 2_000, hours_ago=0, model_version="v1"))
        burst = run_mlmon("worker", "--burst", "--groups", "metrics", env=env)
        assert burst.returncode == 0, burst.stderr
        settings = load_settings(
            **{k: env[k] for k in ("REDIS_URL", "MLMON_PREFIX", "MLMON_HOME", "ML_DRIFT_WINDOW")}
        )
        report = detect_drift(client=client, settings=settings)
        assert report["baseline_predictions"] == 2_000
        assert report["window_predictions"] == 2_000
        assert report["checks"]["page_hinkley"]["events"] == 2_000
        detected.append(report["drift_detected"])
    assert sum(detected) <= 1, detected


@pytest.fixture
def drift_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "ML_DRIFT_WINDOW": "1h", "MLMON_BATCH_SIZE": "500"}


def burst(env: dict[str, str]) -> None:
    result = run_mlmon("worker", "--burst", "--groups", "metrics", env=env)
    assert result.returncode == 0, result.stderr


def baseline_set(env: dict[str, str]) -> None:
    result = run_mlmon("baseline", "set", "--window", "24h", env=env)
    assert result.returncode == 0, result.stderr


def test_a_shift_after_the_baseline_is_set_is_detected(
    publisher: Publisher, client: redis.Redis, settings: Settings, drift_env: dict[str, str]
) -> None:
    rng = np.random.default_rng(1)
    publisher.publish_many(predictions(rng, 2_000, hours_ago=2))
    burst(drift_env)
    baseline_set(drift_env)
    publisher.publish_many(predictions(rng, 500, hours_ago=0, shift=Shift("d", confidence=-0.1)))
    burst(drift_env)
    status = status_json(drift_env)
    drift = status["drift"]
    # the 1 h window is the 60 UTC minute buckets up to now: 59 to 60 minutes
    covers = drift["window_covers"]
    assert (covers["buckets"], covers["bucket"]) == (60, "minute")
    assert 59 * 60 <= covers["seconds"] <= 60 * 60 and covers == status["windows"]["1h"]["covers"]
    assert status["windows"]["24h"]["covers"]["buckets"] == 24
    assert drift["drift_detected"]
    assert drift["checks"]["confidence_psi"]["status"] in ALARMS
    assert drift["checks"]["page_hinkley"]["status"] in ALARMS
    assert drift["checks"]["page_hinkley"]["direction"] == "down"
    # the text shows each check's own quantity beside its thresholds
    text = run_mlmon("status", env=drift_env).stdout.splitlines()
    row = next(line.split() for line in text if line.startswith("page_hinkley "))
    assert row[:2] == ["page_hinkley", "score"] and row[3:7] == [">", "5.000", ">", "10.000"]
    assert any(line.strip().startswith("running mean 0.8") for line in text)
    assert any(line.startswith("Window 1h: 60 UTC minute buckets") for line in text)
    # and Prometheus has the same quantity, beside the same thresholds
    one_hour = settings.replace(drift_window="1h")
    families = status_families(
        build_status(client, one_hour), retraining_timeline(client, one_hour)
    )
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples
    }
    psi_row = drift["checks"]["confidence_psi"]
    labels = (("check", "confidence_psi"), ("measure", "psi"))
    assert samples[("mlmon_drift_check_value", labels)] == pytest.approx(psi_row["value"])
    for level, value in (("warn", 0.1), ("critical", 0.25)):
        key = ("mlmon_drift_check_threshold", (("check", "confidence_psi"), ("level", level)))
        assert samples[key] == value


def test_a_shift_before_the_baseline_is_set_is_still_detected(
    publisher: Publisher, drift_env: dict[str, str]
) -> None:
    rng = np.random.default_rng(2)
    shift = Shift("drop", confidence=-0.1)
    publisher.publish_many(predictions(rng, 2_000, hours_ago=2))
    publisher.publish_many(predictions(rng, 500, hours_ago=0, shift=shift))
    burst(drift_env)
    # the baseline takes the last 24 h: mostly the stable stream, with the shift's start
    baseline_set(drift_env)
    drift = status_json(drift_env)["drift"]
    assert drift["checks"]["confidence_psi"]["status"] in ALARMS
    # nothing fed since: the detector has no evidence either way, and says so
    assert drift["checks"]["page_hinkley"]["status"] == "insufficient data"

    publisher.publish_many(predictions(rng, 300, hours_ago=0, shift=shift))
    burst(drift_env)
    drift = status_json(drift_env)["drift"]
    assert drift["checks"]["confidence_psi"]["status"] in ALARMS
    detector = drift["checks"]["page_hinkley"]
    assert detector["status"] in ALARMS and detector["direction"] == "down"
    # its reference is the baseline's mean confidence, not the shifted stream's
    assert detector["reference_mean"] > 0.79 and "baseline" not in detector
