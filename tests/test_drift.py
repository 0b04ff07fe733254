"""Drift: each statistic against a reference computation, the insufficient-data rule,
the automatic baseline, and detection of a real shift (and no alarm without one)."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import redis
from helpers import run_mlmon
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2, chi2_contingency, norm

from producer_sdk import Prediction, Publisher
from worker.alerts.conditions import check_summary
from worker.drift import page_hinkley
from worker.drift.checks import P_CRITICAL, VERDICTS, DriftConfig, run_checks
from worker.drift.statistics import (
    MIN_EXPECTED,
    chi2_sf,
    chi_square_two_sample,
    mean_drop_p,
    merge_sparse,
    proportion_drop_p,
    psi,
)
from worker.settings import FIELD_DEFAULTS, Settings

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
    baseline, window = [120, 80, 0, 40], [60, 100, 30, 10]
    pooled = [(b + w) / 440 for b, w in zip(baseline, window, strict=True)]
    e = [(c + 2 * q) / (240 + 2) for c, q in zip(baseline, pooled, strict=True)]
    a = [(c + 2 * q) / (200 + 2) for c, q in zip(window, pooled, strict=True)]
    assert psi(baseline, window) == pytest.approx(
        sum((x - y) * math.log(x / y) for x, y in zip(a, e, strict=True))
    )
    # a bin empty in both samples is left out
    assert psi([*baseline, 0], [*window, 0]) == pytest.approx(psi(baseline, window))


def test_psi_of_the_same_proportions_is_zero_whatever_the_sample_sizes() -> None:
    assert psi([225, 135, 90, 0], [45, 27, 18, 0]) == pytest.approx(0.0, abs=1e-12)


@given(
    st.lists(st.integers(0, 50), min_size=2, max_size=10).filter(lambda c: sum(c) > 0),
    st.integers(1, 20),
    st.integers(1, 20),
)
def test_psi_is_zero_for_proportional_samples_and_never_negative(
    counts: list[int], first: int, second: int
) -> None:
    assert psi([c * first for c in counts], [c * second for c in counts]) == pytest.approx(
        0.0, abs=1e-12
    )
    assert psi(counts, counts[::-1]) >= -1e-12


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), min_size=2, max_size=10))
def test_the_two_sample_chi_square_equals_scipy_on_the_merged_table(
    columns: list[tuple[int, int]],
) -> None:
    baseline, window = [a for a, _ in columns], [b for _, b in columns]
    statistic, df, p_value = chi_square_two_sample(baseline, window)
    merged = merge_sparse(baseline, window)
    if df < 1 or not sum(baseline) or not sum(window):
        assert (statistic, p_value) == (0.0, 1.0)  # nothing to compare
        return
    reference = chi2_contingency(np.array(merged).T, correction=False)
    assert statistic == pytest.approx(reference.statistic, rel=1e-9, abs=1e-9)
    assert df == reference.dof
    assert p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-12)
    # every merged bin expects at least MIN_EXPECTED events in the smaller sample
    smaller, total = min(sum(baseline), sum(window)), sum(baseline) + sum(window)
    assert all((a + b) * smaller / total >= MIN_EXPECTED for a, b in merged)


def test_a_table_without_sparse_bins_is_tested_as_it_is() -> None:
    baseline, window = [300, 200, 150, 350], [80, 70, 20, 130]
    statistic, df, p_value = chi_square_two_sample(baseline, window)
    reference = chi2_contingency(np.array([baseline, window]), correction=False)
    assert (statistic, df) == (pytest.approx(reference.statistic), 3)
    assert p_value == pytest.approx(reference.pvalue)


@given(st.floats(0, 200), st.integers(1, 40))
def test_chi2_sf_equals_scipy(statistic: float, df: int) -> None:
    assert chi2_sf(statistic, df) == pytest.approx(chi2.sf(statistic, df), rel=1e-9, abs=1e-15)


def test_the_drop_tests_equal_the_normal_tail_of_their_z() -> None:
    pooled = 460 / 600
    z = (0.8 - 0.7) / math.sqrt(pooled * (1 - pooled) * (1 / 400 + 1 / 200))
    assert proportion_drop_p(320, 400, 140, 200) == pytest.approx(norm.sf(z))
    z = (0.82 - 0.80) / math.sqrt(0.0049 / 2000 + 0.0064 / 500)
    assert mean_drop_p((2000, 0.82, 0.0049), (500, 0.80, 0.0064)) == pytest.approx(norm.sf(z))


def test_drift_config_defaults_are_the_settings_defaults() -> None:
    defaults = FIELD_DEFAULTS
    config = DriftConfig()
    assert config.ph_lambda == defaults["ph_lambda"] == 5.0
    assert config.confidence_drop == defaults["drift_confidence_threshold"]
    assert config.agreement_drop == defaults["drift_agreement_threshold"]
    assert config.usage_drop == defaults["drift_usage_threshold"]
    assert config.min_samples == defaults["drift_min_samples"]


def verdict_counters(shares: list[float], count: int) -> dict[str, int]:
    counts = [round(share * count) for share in shares]
    return {
        "predictions": sum(counts),
        **{f"final:{v}": c for v, c in zip(VERDICTS, counts, strict=True)},
    }


def test_a_trivial_change_at_a_large_volume_is_not_drift_however_significant() -> None:
    # one point of the verdict mix moved, 100,000 + 100,000 events: significant, not large
    baseline = verdict_counters([0.2, 0.3, 0.3, 0.2], 100_000)
    current = verdict_counters([0.2, 0.31, 0.29, 0.2], 100_000)
    report = run_checks(baseline, current, None, DriftConfig())
    chi = report["checks"]["verdict_chi_square"]
    assert chi["value"] < P_CRITICAL and chi["effect"] == pytest.approx(0.01)
    assert chi["status"] == "ok" and report["checks"]["verdict_psi"]["status"] == "ok"
    # ten points moved is drift, and the row shows the p-value beside the p-value threshold
    moved = run_checks(
        baseline, verdict_counters([0.2, 0.4, 0.2, 0.2], 100_000), None, DriftConfig()
    )
    chi = moved["checks"]["verdict_chi_square"]
    assert chi["status"] == "critical" and moved["drift_detected"]
    assert chi["measure"] == "p_value"
    assert chi["threshold"] == 0.001 and chi["value"] < chi["critical_threshold"]
    assert chi["statistic"] > 100 and chi["effect"] == pytest.approx(0.1)


def test_alert_summaries_show_each_check_against_its_own_threshold() -> None:
    baseline = verdict_counters([0.2, 0.3, 0.3, 0.2], 2_000)
    moved = run_checks(baseline, verdict_counters([0.2, 0.4, 0.2, 0.2], 2_000), None, DriftConfig())
    chi, psi_row = moved["checks"]["verdict_chi_square"], moved["checks"]["verdict_psi"]
    summary = check_summary("verdict_chi_square", chi)
    assert summary.startswith(f"verdict_chi_square: p_value {chi['value']:.1e} (warn < 0.001,")
    assert "total_variation 0.100" in summary
    assert check_summary("verdict_psi", psi_row).startswith(
        f"verdict_psi: psi {psi_row['value']:.3f} (warn >= 0.100, critical >= 0.250)"
    )


def test_an_empty_window_is_insufficient_data_not_an_error() -> None:
    baseline = {"predictions": 500, "final:buy": 300, "final:avoid": 200}
    report = run_checks(baseline, {}, None, DriftConfig())
    assert report["severity"] == "insufficient data"
    assert chi_square_two_sample([300, 200, 0, 0], [0, 0, 0, 0]) == (0.0, 1, 1.0)


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
        state = page_hinkley.reference(confidence_stream(1_200, seed=seed, shift_at=None), DELTA)
        score = max(state["up_sum"] - state["up_min"], state["down_max"] - state["down_sum"])
        alarms += score > LAMBDA
    assert alarms / 300 <= 0.01


def test_page_hinkley_finds_a_shift_within_a_bounded_number_of_events() -> None:
    delays = []
    for seed in range(100):
        values = confidence_stream(1_200, seed=seed, shift_at=SHIFT_AT)
        for end in range(SHIFT_AT, len(values)):
            state = page_hinkley.reference(values[: end + 1], DELTA) if end % 5 == 0 else None
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
    # batches of 50), which started the detector from the baseline's mean confidence
    rounded = [round(value, 6) for value in stable + shifted]
    start = page_hinkley.seed(sum(rounded[:500]) / 500, 500)
    expected = page_hinkley.reference(rounded[500:], settings.ph_delta, start=start)
    assert state == pytest.approx(expected, rel=1e-9)


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
