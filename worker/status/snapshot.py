"""The status snapshot behind `mlmon status`: read from Redis only, in one round trip.

Its cost depends on the number of windows and buckets, never on the number of events.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import redis

from producer_sdk.streams import StreamName
from worker.alerts.summary import alerts_summary
from worker.consumer.failures import current_faults
from worker.consumer.health import group_states
from worker.counters.feedback import FEEDBACK_WINDOWS_DAYS, summarize_feedback
from worker.counters.metrics import add_counters, decode_counters, summarize
from worker.counters.windows import (
    WINDOWS,
    Granularity,
    bucket_key,
    bucket_starts,
    longest_window_buckets,
    utc_days,
    window_span,
)
from worker.drift.accuracy import AccuracyConfig, run_accuracy_checks
from worker.drift.baseline import get_baseline
from worker.drift.report import drift_report, feature_report, read_page_hinkley
from worker.keys import Keys
from worker.retraining.summary import retraining_summary
from worker.settings import Settings

TOP_LEVEL_METRICS = (
    "total_predictions",
    "ml_used",
    "ml_usage_rate",
    "agreement_rate",
    "disagreement_rate",
    "avg_ml_confidence",
    "verdict_distribution",
    "confidence_histogram",
)


def build_status(
    client: redis.Redis, settings: Settings, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything `mlmon status` shows, as one JSON-ready dict."""
    now = now or datetime.now(UTC)
    keys = Keys(settings.prefix)
    hashes = {
        "metrics_all": [keys.metrics_all],
        **{
            granularity.value: [
                bucket_key(keys, granularity, t)
                for t in bucket_starts(granularity, now, longest_window_buckets(granularity))
            ]
            for granularity in Granularity
        },
        "feedback_all": [keys.feedback_all],
        "feedback_day": [keys.feedback_day(d) for d in utc_days(now, _feedback_days())],
    }
    pipe = client.pipeline(transaction=False)
    for key_list in hashes.values():
        for key in key_list:
            pipe.hgetall(key)
    pipe.lrange(keys.metrics_recent, 0, settings.recent_predictions - 1)
    pipe.xlen(keys.dead_stream)
    pipe.info("replication")
    replies = iter(pipe.execute())
    counters = {
        name: [decode_counters(next(replies)) for _ in key_list]
        for name, key_list in hashes.items()
    }
    recent_raw, dead_letters, replication = next(replies), next(replies), next(replies)

    overall = summarize(counters["metrics_all"][0])
    window_counts = {
        name: add_counters(counters[granularity.value][:count])
        for name, (granularity, count) in WINDOWS.items()
    }
    baseline = get_baseline(client, settings)
    return {
        "generated_at": now.isoformat(),
        "prefix": settings.prefix,
        "redis": _redis_role(replication),
        "market_open": settings.market.is_open(now),
        **{name: overall[name] for name in TOP_LEVEL_METRICS},
        "windows": {
            name: summarize(window) | {"covers": window_span(name, now)}
            for name, window in window_counts.items()
        },
        "recent_predictions": [json.loads(line) for line in recent_raw],
        "dead_letters": dead_letters,
        "streams": {"predictions": keys.stream(StreamName.PREDICTIONS), "dead": keys.dead_stream},
        "consumer_groups": [state.as_dict() for state in group_states(client, settings)],
        "environment_faults": [asdict(fault) for fault in current_faults(client, keys)],
        "retraining": retraining_summary(client, settings),
        "drift": drift_report(
            baseline,
            window_counts[settings.drift_window],
            read_page_hinkley(client, settings),
            settings,
            now=now,
        ),
        "features": feature_report(
            client, baseline, window_counts[settings.drift_window], settings
        ),
        "accuracy": run_accuracy_checks(
            add_counters(counters["feedback_day"][: FEEDBACK_WINDOWS_DAYS["7d"]]),
            add_counters(  # the 23 days before them: a sample of its own
                counters["feedback_day"][FEEDBACK_WINDOWS_DAYS["7d"] : FEEDBACK_WINDOWS_DAYS["30d"]]
            ),
            AccuracyConfig(
                min_outcomes=settings.drift_min_samples,
                calibration_error=settings.calibration_error_threshold,
            ),
        ),
        "alerts": alerts_summary(client, settings),
        "feedback": {
            "available": True,
            **summarize_feedback(counters["feedback_all"][0]),
            "windows": {
                name: summarize_feedback(add_counters(counters["feedback_day"][:days]))
                for name, days in FEEDBACK_WINDOWS_DAYS.items()
            },
        },
    }


def get_feedback_summary(client: redis.Redis, settings: Settings) -> dict[str, Any]:
    """The original system's feedback summary (`ml_accuracy`, `rule_accuracy`, ...)."""
    feedback: dict[str, Any] = build_status(client, settings)["feedback"]
    return feedback


def _feedback_days() -> int:
    return max(FEEDBACK_WINDOWS_DAYS.values())


def _redis_role(replication: dict[str, Any]) -> dict[str, Any]:
    """The server's role: a replica is read-only, and every mlmon write there fails."""
    if replication.get("role") == "slave":
        primary = f"{replication.get('master_host')}:{replication.get('master_port')}"
        return {"role": "replica", "primary": primary, "read_only": True}
    return {"role": "primary", "primary": None, "read_only": False}
