"""The status snapshot behind `mlmon status`: read from Redis only, in one round trip.

Its cost depends on the number of windows and buckets, never on the number of events.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import redis

from producer_sdk.connection import is_cluster_client
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
    keys = Keys.of(settings)
    parts = Keys.partitions_of(settings)  # counters summed over the partitions
    per_part = [_counter_keys(part, now) for part in parts]
    pipe = client.pipeline(transaction=False)
    for hashes in per_part:
        for key_list in hashes.values():
            for key in key_list:
                pipe.hgetall(key)
    for part in parts:
        pipe.lrange(part.metrics_recent, 0, settings.recent_predictions - 1)
        pipe.xlen(part.dead_stream)
    if len(parts) > 1:  # the shared groups' dead letters
        pipe.xlen(keys.dead_stream)
    if not is_cluster_client(client):  # a cluster client writes to primaries only
        pipe.info("replication")
    replies = iter(pipe.execute())
    read = [
        {name: [decode_counters(next(replies)) for _ in key_list] for name, key_list in h.items()}
        for h in per_part
    ]
    counters = {
        name: [add_counters([part[name][i] for part in read]) for i in range(len(key_list))]
        for name, key_list in per_part[0].items()
    }
    recent_lists, dead_counts = [], []
    for _ in parts:
        recent_lists.append(next(replies))
        dead_counts.append(int(next(replies)))
    if len(parts) > 1:
        dead_counts.append(int(next(replies)))
    replication = next(replies, {"role": "master"})
    recent_raw = _newest_first(recent_lists, settings.recent_predictions)
    dead_letters = sum(dead_counts)

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
        "environment_faults": [
            asdict(fault)
            for part in dict.fromkeys([*parts, keys])
            for fault in current_faults(client, part)
        ],
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


def _counter_keys(keys: Keys, now: datetime) -> dict[str, list[str]]:
    """The counter hashes of one partition that the status reads."""
    return {
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


def _newest_first(lists: list[list[bytes]], limit: int) -> list[bytes]:
    """The partitions' recent predictions merged newest first (by their `ts`)."""
    if len(lists) == 1:
        return lists[0][:limit]
    merged = [line for lines in lists for line in lines]
    merged.sort(key=lambda line: str(json.loads(line).get("ts", "")), reverse=True)
    return merged[:limit]


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
