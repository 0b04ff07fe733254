"""The original system's in-process calls, answered from Redis: code written against its
logging, feedback and retraining services keeps working with a change of import.

    from worker.status.client import MonitorClient

    monitor = MonitorClient.from_env()           # REDIS_URL, MLMON_PREFIX, ... as mlmon reads them
    metrics = monitor.get_metrics()              # metrics["ml_usage_rate"], ["agreement_rate"]
    print(monitor.generate_report())             # the text of `mlmon status --report`
    drift = monitor.detect_drift(baseline_metrics)   # drift["drift_detected"]
    summary = monitor.get_feedback_summary()     # summary["ml_accuracy"]
    results = monitor.retrain_models(reason="Manual trigger")

Reads are one status snapshot each (the numbers every worker wrote); `retrain_models`
asks the retraining gate, as `mlmon retrain` does, and an accepted run is an RQ job:
its result comes later, in the registry and the history file, not in the return value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from worker.drift.report import detect_drift
from worker.redis_conn import connect
from worker.retraining.gate import Trigger
from worker.retraining.request import request_retrain
from worker.settings import Settings, load_settings
from worker.status.snapshot import TOP_LEVEL_METRICS, build_status, get_feedback_summary
from worker.status.text import render


class MonitorClient:
    """The read side of mlmon plus the retrain request, on one Redis connection.

    client: a Redis client for the deployment. settings: its settings (the prefix, the
    time zone of the report, the drift window and thresholds).
    """

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @classmethod
    def from_env(cls, **overrides: object) -> MonitorClient:
        """Settings from the environment (overrides by variable name, as `load_settings`);
        raises `SettingsError` or `RedisUnavailableError` with a one-line message."""
        settings = load_settings(**overrides)
        return cls(connect(settings), settings)

    def get_metrics(self) -> dict[str, Any]:
        """Total predictions, ML usage, agreement and disagreement rates, average ML
        confidence, verdict distribution and confidence histogram (all time), and the
        recent predictions. A rate with nothing to divide is None."""
        status = build_status(self.client, self.settings)
        return {
            **{name: status[name] for name in TOP_LEVEL_METRICS},
            "recent_predictions": status["recent_predictions"],
        }

    def generate_report(self, *, detailed: bool = False) -> str:
        """The plain-text monitoring report (`mlmon status --report [--detailed]`)."""
        status = build_status(self.client, self.settings)
        return render(status, zone=self.settings.zone, plain=True, detailed=detailed)

    def detect_drift(self, baseline_metrics: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Drift against `baseline_metrics` (a `get_metrics()` dict, as the original system
        passed), or against the stored baseline when None: `drift_detected`, `severity`,
        and every check with its baseline, current value and threshold."""
        return detect_drift(baseline_metrics, client=self.client, settings=self.settings)

    def get_feedback_summary(self) -> dict[str, Any]:
        """Accuracy of ML, rules and final verdicts on scored trade outcomes
        (`ml_accuracy`, `rule_accuracy`, `total_outcomes`, ...)."""
        return get_feedback_summary(self.client, self.settings)

    def retrain_models(
        self, reason: str = "Manual trigger", *, force: bool = False
    ) -> dict[str, Any]:
        """Ask the retraining gate for a run. `success` is whether it was accepted (and
        queued as `job_id`); `why` says why not, `next_allowed_at` (Unix time) when."""
        decision = request_retrain(
            self.client, self.settings, trigger=Trigger.MANUAL, reason=reason, force=force
        )
        return {"success": decision.accepted, **decision.as_dict()}

    def close(self) -> None:
        self.client.close()
