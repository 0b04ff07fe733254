"""`mlmon exporter`: a real process scraped over HTTP, its values equal to `mlmon status
--json` after a known set of events; drift, a Redis outage, and the deploy/ files."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import redis
import yaml
from helpers import run_mlmon, status_json
from known_events import PROMOTED_AT, get, publish_known_events, serving
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from producer_sdk import Publisher
from worker.local.redis_server import free_port
from worker.retraining.timeline import retraining_timeline
from worker.settings import Settings
from worker.status.exporter import DRIFT_STATUS_VALUES, StatusCollector, status_families
from worker.status.snapshot import build_status

ROOT = Path(__file__).resolve().parents[1]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
DRIFT = {
    "available": True,
    "drift_detected": True,
    "severity": "critical",
    "checks": {
        "confidence_drop": {"status": "ok", "baseline": 0.7, "current": 0.69},
        "agreement_drop": {"status": "warn", "baseline": 0.6, "current": 0.4},
        "usage_drop": {"status": "critical", "baseline": 0.9, "current": 0.5},
        "verdict_psi": {"status": "insufficient data", "baseline": None, "current": None},
    },
}


def samples_of(families: list[Metric]) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_scraped_values_equal_status_json_after_known_events(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    known = publish_known_events(publisher, client, settings)
    assert run_mlmon("worker", "--burst", env=env).returncode == 0

    with serving("exporter", env) as url:
        code, headers, body = get(url + "/metrics")
    status = status_json(env)

    assert code == 200
    assert headers["Content-Type"].startswith("text/plain")
    families = list(text_string_to_metric_families(body.decode()))
    types = {family.name: family.type for family in families}
    samples = samples_of(families)
    assert types["mlmon_predictions"] == "counter"
    assert types["mlmon_verdicts"] == "counter"
    assert types["mlmon_agreement_rate"] == "gauge"
    assert types["mlmon_dead_letters"] == "gauge"
    assert value(samples, "mlmon_up") == 1

    total = len(known.predictions)
    assert value(samples, "mlmon_predictions_total") == status["total_predictions"] == total
    ml_used = sum(p.verdict_source.value == "ml" for p in known.predictions)
    assert value(samples, "mlmon_predictions_by_source_total", source="ml") == ml_used
    assert value(samples, "mlmon_predictions_by_source_total", source="rule") == total - ml_used
    for kind, counts in status["verdict_distribution"].items():
        for verdict, count in counts.items():
            assert value(samples, "mlmon_verdicts_total", kind=kind, verdict=verdict) == count
    windows = {**status["windows"], "all": status}
    for name in ("ml_usage_rate", "agreement_rate", "avg_ml_confidence"):
        for window, metrics in windows.items():
            assert value(samples, f"mlmon_{name}", window=window) == pytest.approx(
                metrics[name], abs=1e-12
            ), (name, window)

    feedback = status["feedback"]
    for source in ("ml", "rule", "final"):
        assert value(samples, "mlmon_accuracy", source=source) == pytest.approx(
            feedback[f"{source}_accuracy"], abs=1e-12
        )
    for outcome, count in feedback["outcomes"].items():
        assert value(samples, "mlmon_feedback_outcomes_total", outcome=outcome) == count
    assert sum(feedback["outcomes"].values()) == known.outcomes

    retraining = status["retraining"]
    assert value(samples, "mlmon_retraining_runs_total", outcome="completed") == 2
    assert value(samples, "mlmon_retraining_runs_total", outcome="failed") == 1
    assert retraining["total_retrainings"] == 2 and retraining["failed_runs"] == 1
    assert value(samples, "mlmon_model_live_version") == retraining["live_version"] == 3
    for registry_status in ("live", "previous", "rejected"):
        assert value(samples, "mlmon_model_versions", status=registry_status) == 1
    assert value(samples, "mlmon_last_promotion_timestamp_seconds") == pytest.approx(
        datetime.fromisoformat(PROMOTED_AT).timestamp()
    )

    for group in status["consumer_groups"]:
        labels = {"group": group["group"], "stream": group["stream"]}
        assert value(samples, "mlmon_consumer_lag", **labels) == group["lag"] == 0
        assert value(samples, "mlmon_consumer_pending", **labels) == group["pending"]
    assert value(samples, "mlmon_dead_letters") == status["dead_letters"] == known.dead_letters

    drift_series = {
        dict(labels)["check"]: v
        for (name, labels), v in samples.items()
        if name == "mlmon_drift_check_status"
    }
    if status["drift"]["available"]:
        assert drift_series == {
            check: DRIFT_STATUS_VALUES[result["status"]]
            for check, result in status["drift"]["checks"].items()
        }
    else:
        assert drift_series == {}, "no drift series while drift is not available"
    tickers = {p.ticker for p in known.predictions}
    label_values = {v for _, labels in samples for _, v in labels}
    assert not tickers & label_values, "a ticker must never be a label"


def test_drift_checks_are_numbered_by_severity(client: redis.Redis, settings: Settings) -> None:
    status = build_status(client, settings)
    timeline = retraining_timeline(client, settings)

    with_drift = samples_of(list(status_families({**status, "drift": DRIFT}, timeline)))
    without = samples_of(list(status_families(status, timeline)))

    expected = {"confidence_drop": 0, "agreement_drop": 1, "usage_drop": 2, "verdict_psi": -1}
    for check, number in expected.items():
        assert value(with_drift, "mlmon_drift_check_status", check=check) == number
    # an empty deployment: drift is there, and every check says "insufficient data" (-1)
    drift_values = {without[key] for key in without if key[0] == "mlmon_drift_check_status"}
    assert drift_values == {-1}
    # an empty deployment: rates with nothing to divide are absent, not 0
    assert not [key for key in without if key[0] == "mlmon_agreement_rate"]
    assert value(without, "mlmon_predictions_total") == 0


def test_a_scrape_while_redis_is_down_reports_mlmon_up_0(settings: Settings) -> None:
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=None)
    families = list(StatusCollector(unreachable, settings).collect())
    assert [(f.name, f.samples[0].value) for f in families] == [("mlmon_up", 0)]


def test_exporter_fails_with_one_line_when_the_port_is_taken(env: dict[str, str]) -> None:
    with serving("exporter", env) as url:
        port = url.rsplit(":", 1)[1]
        result = run_mlmon("exporter", "--port", port, env=env, timeout_s=20)
    assert result.returncode == 1
    assert result.stderr.startswith(f"mlmon: exporter: cannot listen on 127.0.0.1:{port}")


def exported_names(client: redis.Redis, settings: Settings) -> set[str]:
    """Every sample name the exporter can produce (drift and promotion included)."""
    status = build_status(client, settings)
    timeline = {**retraining_timeline(client, settings), "last_promotion_at": PROMOTED_AT}
    status["retraining"]["live_version"] = 1
    families = list(status_families({**status, "drift": DRIFT}, timeline))
    families += list(StatusCollector(client, settings).collect())
    suffix = {"counter": "_total"}
    return {family.name + suffix.get(family.type, "") for family in families}


def test_alert_rules_and_grafana_dashboard_use_only_exported_metrics(
    client: redis.Redis, settings: Settings
) -> None:
    names = exported_names(client, settings)
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "mlmon-alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
            assert rule["labels"]["severity"] in {"warning", "critical"}
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "mlmon-dashboard.json").read_text())
    panels = dashboard["panels"]
    expressions += [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert len(panels) >= 8
    used = {name for expr in expressions for name in re.findall(r"\bmlmon_[a-z_]+", expr)}
    assert used <= names, f"not exported: {sorted(used - names)}"
    # and that covers every query but Prometheus' own scrape check
    assert [expr for expr in expressions if not re.search(r"\bmlmon_", expr)] == [
        'up{job="mlmon"} == 0'
    ]
