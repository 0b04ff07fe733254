"""`MonitorClient`: the original system's calls over Redis, each equal to what the CLI
shows for the same deployment, and the retrain request through the gate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from helpers import run_mlmon, status_json
from known_events import publish_known_events
from rq import Queue
from rq.serializers import JSONSerializer

from producer_sdk import Publisher
from worker.keys import Keys
from worker.settings import Settings
from worker.status.client import MonitorClient


@pytest.fixture
def monitor(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str]
) -> Iterator[MonitorClient]:
    publish_known_events(publisher, client, settings)
    assert run_mlmon("worker", "--burst", env=env).returncode == 0
    overrides = {name: env[name] for name in ("REDIS_URL", "MLMON_PREFIX", "MLMON_HOME")}
    connected = MonitorClient.from_env(**overrides)
    yield connected
    connected.close()


def without_generated_line(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("Generated: ")]


def test_reads_equal_what_the_cli_shows(monitor: MonitorClient, env: dict[str, str]) -> None:
    metrics = monitor.get_metrics()
    from_cli = status_json(env)
    for name in ("total_predictions", "ml_usage_rate", "agreement_rate", "avg_ml_confidence"):
        assert metrics[name] == from_cli[name], name
    assert metrics["total_predictions"] == 300
    assert metrics["verdict_distribution"] == from_cli["verdict_distribution"]
    assert metrics["recent_predictions"] == from_cli["recent_predictions"]

    report = run_mlmon("status", "--report", env=env)
    assert without_generated_line(monitor.generate_report()) == without_generated_line(
        report.stdout
    )
    summary = monitor.get_feedback_summary()
    assert summary["total_outcomes"] == 40
    assert summary["ml_accuracy"] == from_cli["feedback"]["ml_accuracy"]


def test_detect_drift_against_the_original_systems_metrics_dict(monitor: MonitorClient) -> None:
    unchanged = monitor.detect_drift(monitor.get_metrics())
    assert unchanged["checks"]["confidence_drop"]["status"] == "ok", unchanged["checks"]
    confident_past = {**monitor.get_metrics(), "avg_ml_confidence": 0.99, "total_predictions": 5000}
    drifted = monitor.detect_drift(confident_past)
    assert drifted["drift_detected"] is True
    assert drifted["checks"]["confidence_drop"]["status"] in {"warn", "critical"}


def test_retrain_models_goes_through_the_gate(monitor: MonitorClient, prefix: str) -> None:
    refused = monitor.retrain_models(reason="Manual trigger")
    assert refused["success"] is False and refused["accepted"] is False
    assert "samples" in refused["why"], refused
    forced = monitor.retrain_models(reason="Manual trigger", force=True)
    assert forced["success"] is True and forced["job_id"]
    queue = Queue(
        Keys(prefix).retraining_queue, connection=monitor.client, serializer=JSONSerializer
    )
    assert forced["job_id"] in queue.job_ids
