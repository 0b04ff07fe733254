"""Prometheus metrics of mlmon, read from Redis at scrape time (`mlmon exporter`).

A custom collector, not client-side counters: the numbers live in Redis, written by any
number of workers, so each scrape takes one status snapshot (`build_status`, the same
dict `mlmon status --json` prints) and turns it into metric families. Every exporter
replica therefore reports the same values, and a restart loses nothing.

Labels carry only small fixed sets (window, source, verdict, check, group): never a
ticker, so the number of series does not grow with the traffic. A value with nothing
behind it (a rate of an empty window, an accuracy without outcomes) is left out rather
than reported as 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from worker.log import get_logger
from worker.retraining.records import ModelStatus
from worker.retraining.timeline import retraining_timeline
from worker.settings import Settings
from worker.status.exporter_features import accuracy_families, feature_families
from worker.status.snapshot import build_status

log = get_logger(__name__)

WINDOW_RATES = ("ml_usage_rate", "agreement_rate", "avg_ml_confidence")
DRIFT_STATUS_VALUES = {"ok": 0, "warn": 1, "critical": 2, "insufficient data": -1}
ACCURACY_SOURCES = ("ml", "rule", "final")


class StatusCollector:
    """Collects every mlmon metric from one status snapshot per scrape."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            status = build_status(self.client, self.settings)
            timeline = retraining_timeline(self.client, self.settings, limit=1)
        except redis.RedisError as e:
            log.warning("cannot read Redis", component="exporter", error=str(e))
            yield _gauge("mlmon_up", "1 when the last scrape could read Redis, else 0.", 0)
            return
        yield from status_families(status, timeline)
        yield _gauge("mlmon_up", "1 when the last scrape could read Redis, else 0.", 1)
        yield _gauge(
            "mlmon_scrape_duration_seconds",
            "Time the scrape took to read Redis and build the metrics.",
            time.perf_counter() - started,
        )


def make_registry(client: redis.Redis, settings: Settings) -> CollectorRegistry:
    """A registry holding only mlmon's collector (no process metrics of the exporter)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(client, settings))
    return registry


def status_families(status: Mapping[str, Any], timeline: Mapping[str, Any]) -> Iterator[Metric]:
    """The metric families of one status snapshot and the retraining timeline."""
    yield from _prediction_families(status)
    yield from _rate_families(status)
    yield from _drift_families(status.get("drift", {}))
    yield from _feedback_families(status["feedback"])
    yield from feature_families(status.get("features", {}))
    yield from accuracy_families(status.get("accuracy", {}))
    yield from _retraining_families(status["retraining"], timeline)
    yield from _consumer_families(status["consumer_groups"])
    yield _gauge("mlmon_dead_letters", "Entries in the dead-letter stream.", status["dead_letters"])
    yield _gauge(
        "mlmon_market_open",
        "1 while the market is in session (ML_MARKET_HOURS, _DAYS, _HOLIDAYS), else 0.",
        int(status["market_open"]),
    )


def _prediction_families(status: Mapping[str, Any]) -> Iterator[Metric]:
    total = status["total_predictions"]
    yield CounterMetricFamily(
        "mlmon_predictions", "Predictions counted (each event once).", value=total
    )
    by_source = CounterMetricFamily(
        "mlmon_predictions_by_source",
        "Predictions by the source of their final verdict.",
        labels=["source"],
    )
    ml_used = ml_used_count(status)
    by_source.add_metric(["ml"], ml_used)
    by_source.add_metric(["rule"], total - ml_used)
    yield by_source
    verdicts = CounterMetricFamily(
        "mlmon_verdicts",
        "Verdicts counted, by kind (final, ml, rule) and verdict.",
        labels=["kind", "verdict"],
    )
    for kind, counts in status["verdict_distribution"].items():
        for verdict, count in counts.items():
            verdicts.add_metric([kind, verdict], count)
    yield verdicts


def ml_used_count(status: Mapping[str, Any]) -> int:
    """Predictions whose final verdict came from ML, all time.

    The snapshot's top level carries the rate, not the count; the rate is ml_used / total
    in floating point, so rate * total rounds back to the exact count for any total below
    2**52.
    """
    rate = status["ml_usage_rate"]
    return 0 if rate is None else round(rate * status["total_predictions"])


def _rate_families(status: Mapping[str, Any]) -> Iterator[Metric]:
    windows = {**status["windows"], "all": status}
    help_texts = {
        "ml_usage_rate": "Share of predictions whose final verdict came from ML (0..1).",
        "agreement_rate": "Share of predictions with an ML verdict equal to the rule verdict.",
        "avg_ml_confidence": "Average ML confidence (0..1).",
    }
    for name in WINDOW_RATES:
        family = GaugeMetricFamily(f"mlmon_{name}", help_texts[name], labels=["window"])
        for window, metrics in windows.items():
            if metrics[name] is not None:
                family.add_metric([window], metrics[name])
        yield family


def _drift_families(drift: Mapping[str, Any]) -> Iterator[Metric]:
    if not drift.get("available"):
        return
    family = GaugeMetricFamily(
        "mlmon_drift_check_status",
        "Drift check result: 0 ok, 1 warn, 2 critical, -1 insufficient data.",
        labels=["check"],
    )
    value = GaugeMetricFamily(
        "mlmon_drift_check_value",
        "The quantity a drift check's thresholds apply to (`measure`: drop, psi, p_value, "
        "score, rate); absent while it has no value.",
        labels=["check", "measure"],
    )
    threshold = GaugeMetricFamily(
        "mlmon_drift_check_threshold",
        "A drift check's warn and critical thresholds, on the same quantity as its value.",
        labels=["check", "level"],
    )
    for check, result in drift.get("checks", {}).items():
        family.add_metric([check], DRIFT_STATUS_VALUES.get(result["status"], -1))
        if result.get("value") is not None:
            value.add_metric([check, result.get("measure", "value")], result["value"])
        for level, key in (("warn", "threshold"), ("critical", "critical_threshold")):
            if result.get(key) is not None:
                threshold.add_metric([check, level], result[key])
    yield family
    yield value
    yield threshold


def _feedback_families(feedback: Mapping[str, Any]) -> Iterator[Metric]:
    if not feedback.get("available"):
        return
    outcomes = CounterMetricFamily(
        "mlmon_feedback_outcomes", "Trade outcomes scored, by outcome.", labels=["outcome"]
    )
    for outcome, count in feedback["outcomes"].items():
        outcomes.add_metric([outcome], count)
    yield outcomes
    accuracy = GaugeMetricFamily(
        "mlmon_accuracy",
        "Share of scored outcomes each source called right, all time (0..1).",
        labels=["source"],
    )
    for source in ACCURACY_SOURCES:
        value = feedback[f"{source}_accuracy"]
        if value is not None:
            accuracy.add_metric([source], value)
    yield accuracy


def _retraining_families(
    retraining: Mapping[str, Any], timeline: Mapping[str, Any]
) -> Iterator[Metric]:
    if not retraining.get("available"):
        return
    runs = CounterMetricFamily(
        "mlmon_retraining_runs",
        "Retraining runs that ended: completed (promoted or rejected) or failed.",
        labels=["outcome"],
    )
    runs.add_metric(["completed"], retraining["total_retrainings"])
    runs.add_metric(["failed"], retraining["failed_runs"])
    yield runs
    versions = GaugeMetricFamily(
        "mlmon_model_versions",
        "Model versions in the registry, by status (live, previous, rejected, rolled_back).",
        labels=["status"],
    )
    by_status: dict[str, int] = {}
    for entry in timeline["versions"]:
        status = _model_status_label(entry.get("status"))
        by_status[status] = by_status.get(status, 0) + 1
    for status, count in sorted(by_status.items()):
        versions.add_metric([status], count)
    yield versions
    if retraining["live_version"] is not None:
        yield _gauge(
            "mlmon_model_live_version",
            "Version number of the live model.",
            retraining["live_version"],
        )
    if timeline["last_promotion_at"] is not None:
        yield _gauge(
            "mlmon_last_promotion_timestamp_seconds",
            "Unix time at which a newly trained model last became live.",
            datetime.fromisoformat(timeline["last_promotion_at"]).timestamp(),
        )


def _consumer_families(groups: list[Mapping[str, Any]]) -> Iterator[Metric]:
    lag = GaugeMetricFamily(
        "mlmon_consumer_lag",
        "Entries of the stream not yet delivered to the consumer group.",
        labels=["group", "stream"],
    )
    pending = GaugeMetricFamily(
        "mlmon_consumer_pending",
        "Entries delivered to the group but not yet acknowledged.",
        labels=["group", "stream"],
    )
    live = GaugeMetricFamily(
        "mlmon_consumer_live",
        "Consumers of the group with a current heartbeat.",
        labels=["group", "stream"],
    )
    for group in groups:
        labels = [group["group"], group["stream"]]
        live.add_metric(labels, len(group["live_consumers"]))
        if not group["exists"]:
            continue  # not created yet: no lag or pending to speak of
        if group["lag"] is not None:
            lag.add_metric(labels, group["lag"])
        pending.add_metric(labels, group["pending"])
    yield from (lag, pending, live)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _model_status_label(stored: object) -> str:
    try:
        return ModelStatus(str(stored)).value
    except ValueError:
        return "unknown"
