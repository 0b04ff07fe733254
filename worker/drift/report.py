"""The drift section of `mlmon status`, and `detect_drift()` as the original system had it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import redis

from worker.counters.metrics import VERDICT_KINDS, add_counters
from worker.counters.windows import window_counters, window_span
from worker.drift import page_hinkley
from worker.drift.baseline import get_baseline
from worker.drift.checks import DriftConfig, run_checks
from worker.drift.features import FeatureConfig, run_feature_checks
from worker.keys import Keys
from worker.settings import Settings


def drift_config(settings: Settings) -> DriftConfig:
    return DriftConfig(
        confidence_drop=settings.drift_confidence_threshold,
        agreement_drop=settings.drift_agreement_threshold,
        usage_drop=settings.drift_usage_threshold,
        min_samples=settings.drift_min_samples,
        ph_lambda=settings.ph_lambda,
        target_usage=settings.target_ml_usage,
        target_agreement=settings.target_agreement,
        target_confidence=settings.target_avg_confidence,
    )


def drift_report(
    baseline: Mapping[str, Any] | None,
    window_counters: Mapping[str, int],
    page_hinkley: Mapping[str, float] | None,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The checks of the `ML_DRIFT_WINDOW` counters (read at `now`) against a stored
    baseline record."""
    counters = baseline["counters"] if baseline else None
    report = run_checks(counters, window_counters, page_hinkley, drift_config(settings))
    report["window"] = settings.drift_window
    report["window_covers"] = window_span(settings.drift_window, now or datetime.now(UTC))
    report["baseline"] = None
    if baseline:
        report["baseline"] = {k: baseline.get(k) for k in ("model_version", "source", "created_at")}
    return report


def read_page_hinkley(client: redis.Redis, settings: Settings) -> dict[str, float]:
    """The detector's state; with partitions, each partition runs its own detector over its
    events in order (a sum of states means nothing), and the one with the highest score
    speaks for all: the worst status."""
    states = []
    for keys in Keys.partitions_of(settings):
        raw: dict[bytes, bytes] = client.hgetall(keys.drift_page_hinkley)  # type: ignore[assignment]
        states.append({k.decode(): float(v) for k, v in raw.items()})
    started = [state for state in states if state.get("n")]
    if not started:
        return states[0]
    return max(started, key=lambda state: page_hinkley.score(state)[0])


def partition_window_counters(
    client: redis.Redis, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """The `ML_DRIFT_WINDOW` counters summed over the partitions."""
    return add_counters(
        [
            window_counters(client, keys, settings.drift_window, now=now)
            for keys in Keys.partitions_of(settings)
        ]
    )


def detect_drift(
    baseline: Mapping[str, Any] | None = None,
    *,
    client: redis.Redis,
    settings: Settings,
) -> dict[str, Any]:
    """The drift dict of `mlmon status`, against `baseline`: the stored one by default, a
    record from `get_baseline()`, or a metrics dict as the original system passed
    (`avg_ml_confidence`, `agreement_rate`, `ml_usage_rate`, `total_predictions`)."""
    now = datetime.now(UTC)
    if baseline is None:
        baseline = get_baseline(client, settings)
    elif "counters" not in baseline:
        baseline = {"counters": counters_from_metrics(baseline), "source": "given metrics"}
    return drift_report(
        baseline,
        partition_window_counters(client, settings, now=now),
        read_page_hinkley(client, settings),
        settings,
        now=now,
    )


def counters_from_metrics(metrics: Mapping[str, Any]) -> dict[str, int]:
    """Counters equivalent to a metrics dict's rates (distributions when it has them)."""
    n = int(metrics.get("total_predictions") or 1_000)
    counters = {"predictions": n}
    if metrics.get("ml_usage_rate") is not None:
        counters["ml_used"] = round(metrics["ml_usage_rate"] * n)
    if metrics.get("agreement_rate") is not None:
        counters |= {"compared": n, "agreed": round(metrics["agreement_rate"] * n)}
    if metrics.get("avg_ml_confidence") is not None:
        counters |= {
            "ml_confidence_count": n,
            "ml_confidence_sum_micro": round(metrics["avg_ml_confidence"] * 1_000_000 * n),
        }
    distribution = metrics.get("verdict_distribution") or {}
    for kind in VERDICT_KINDS:
        for verdict, count in (distribution.get(kind) or {}).items():
            counters[f"{kind}:{verdict}"] = int(count)
    return counters


def feature_report(
    client: redis.Redis,
    baseline: Mapping[str, Any] | None,
    window_counters: Mapping[str, int],
    settings: Settings,
) -> dict[str, Any]:
    """The `features` section of `mlmon status`: per-feature drift and data quality of
    the `ML_DRIFT_WINDOW` counters against the baseline's, and the monitored set."""
    config = FeatureConfig(min_samples=settings.drift_min_samples)
    report = run_feature_checks(baseline["counters"] if baseline else None, window_counters, config)
    monitored = client.smembers(Keys.of(settings).shared.features_monitored)
    names = sorted(name.decode("utf-8", "replace") for name in monitored)  # type: ignore[union-attr]
    return {
        "available": True,
        "window": settings.drift_window,
        "monitored": names,
        "monitored_cap": settings.features_monitored,
        **report,
    }
