"""Alerts: the rule timing, grouping, and delivery to real local HTTP and SMTP servers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
import redis
from aiosmtpd.controller import Controller
from helpers import run_mlmon
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from worker.alerts.notify import alerts_queue, notify
from worker.alerts.rules import Alert, AlertState, Condition, evaluate
from worker.groups.alerts import check_alerts
from worker.local.redis_server import free_port
from worker.retraining.registry import ModelRegistry
from worker.settings import Settings, load_settings


def conditions(**active: str | None) -> list[Condition]:
    """name -> severity (None: not active)."""
    return [Condition(n, s is not None, s or "warn", f"{n} summary") for n, s in active.items()]


def test_an_alert_fires_only_after_its_for_delay_and_is_not_repeated_within_repeat() -> None:
    state: dict[str, AlertState] = {}
    timeline = []
    for now_s in (0, 100, 299, 300, 400, 300 + 4 * 3600 - 1, 300 + 4 * 3600):
        result = evaluate(
            conditions(drift="warn"), state, now_s=now_s, for_s=300, repeat_s=4 * 3600
        )
        state = result.state
        timeline.append((now_s, [a.status for a in result.alerts]))
    assert timeline == [
        (0, []),
        (100, []),
        (299, []),
        (300, ["firing"]),
        (400, []),
        (300 + 4 * 3600 - 1, []),
        (300 + 4 * 3600, ["firing"]),
    ]


def test_resolved_notice_escalation_and_grouping() -> None:
    state = evaluate(conditions(a="warn", b="warn"), {}, now_s=0, for_s=0, repeat_s=3600).state
    escalated = evaluate(
        conditions(a="critical", b="warn"), state, now_s=10, for_s=0, repeat_s=3600
    )
    assert [(x.name, x.severity) for x in escalated.alerts] == [("a", "critical")]
    cleared = evaluate(
        conditions(a=None, b=None), escalated.state, now_s=20, for_s=0, repeat_s=3600
    )
    assert sorted((x.name, x.status) for x in cleared.alerts) == [
        ("a", "resolved"),
        ("b", "resolved"),
    ]
    flapping = evaluate(conditions(a="warn"), {}, now_s=0, for_s=300, repeat_s=3600)
    gone = evaluate(conditions(a=None), flapping.state, now_s=100, for_s=300, repeat_s=3600)
    assert gone.alerts == []  # it never fired, so nothing resolves


class Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def settings_with(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, **extra: str) -> Settings:
    """The delivery job reads the environment, as a real RQ worker would."""
    for name in ("REDIS_URL", "MLMON_PREFIX", "MLMON_HOME"):
        monkeypatch.setenv(name, env[name])
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def run_deliveries(client: redis.Redis, settings: Settings) -> None:
    SimpleWorker(
        [alerts_queue(client, settings)], connection=client, serializer=JSONSerializer
    ).work(burst=True)


def test_grouped_notification_reaches_the_stream_and_the_signed_webhook(
    client: redis.Redis, env: dict[str, str], http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_with(
        env, monkeypatch, ML_ALERT_WEBHOOK_URL=f"{http_server}/hook", ML_ALERT_WEBHOOK_SECRET="hush"
    )
    alerts = [
        Alert("drift:confidence_psi", "critical", "psi 0.4", "firing"),
        Alert("lag:x", "warn", "lag", "firing"),
    ]
    notification = notify(client, settings, alerts)
    assert notification is not None
    [(_, entry)] = client.xrange(f"{settings.prefix}:stream:alerts")
    assert [a["name"] for a in json.loads(entry[b"event"])["alerts"]] == [
        "drift:confidence_psi",
        "lag:x",
    ]
    assert Recorder.received == []  # delivery is a job: the caller never waits for the endpoint
    run_deliveries(client, settings)

    [(headers, body)] = Recorder.received
    assert json.loads(body)["id"] == notification["id"]
    expected = hmac.new(b"hush", body, hashlib.sha256).hexdigest()
    assert headers["X-Mlmon-Signature"] == f"sha256={expected}"


def test_email_reaches_a_real_smtp_server(
    client: redis.Redis, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Inbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            self.messages.append(envelope.content)
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = settings_with(
            env,
            monkeypatch,
            ML_ALERT_SMTP_HOST="127.0.0.1",
            ML_ALERT_SMTP_PORT=str(controller.port),
            ML_ALERT_SMTP_STARTTLS="false",
            ML_ALERT_EMAIL_TO="ops@example.com",
        )
        notify(
            client, settings, [Alert("heartbeat:logs", "critical", "no live consumer", "firing")]
        )
        run_deliveries(client, settings)
    finally:
        controller.stop()
    [message] = inbox.messages
    assert b"Subject: [mlmon critical] 1 alert(s)" in message
    assert b"heartbeat:logs: no live consumer" in message


def test_a_dead_endpoint_is_retried_then_recorded_as_failed(
    client: redis.Redis, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_with(
        env,
        monkeypatch,
        ML_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/x",
        ML_ALERT_RETRIES="0,0",
    )
    started = time.monotonic()
    notify(client, settings, [Alert("dead_letters_growing", "warn", "3 new", "firing")])
    assert time.monotonic() - started < 2  # nothing waits for the endpoint
    run_deliveries(client, settings)
    [(_, failure)] = client.xrange(f"{settings.prefix}:alerts:failed")
    assert failure[b"channel"] == b"webhook" and b"webhook" in failure[b"reason"]
    status = json.loads(run_mlmon("status", "--json", env=env).stdout)
    assert status["alerts"]["failed_deliveries"] == 1


def test_critical_drift_alerts_and_asks_the_gate_for_a_retrain(
    client: redis.Redis, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_drift import confidence_stream, predictions_from

    from producer_sdk import Publisher

    settings = settings_with(
        env,
        monkeypatch,
        ML_ALERT_FOR="0s",
        ML_DRIFT_WINDOW="1h",
        ML_BASELINE_SAMPLES="500",
        MLMON_BATCH_SIZE="50",
    )
    publisher = Publisher(client, prefix=settings.prefix, on_failure="raise")
    publisher.publish_many(
        predictions_from(confidence_stream(600, seed=1, shift_at=None), version="v1", seed=1)
    )
    publisher.publish_many(
        predictions_from(confidence_stream(1_200, seed=2, shift_at=0), version="v1", seed=2)
    )
    drift_env = {
        **env,
        "ML_BASELINE_SAMPLES": "500",
        "ML_DRIFT_WINDOW": "1h",
        "MLMON_BATCH_SIZE": "50",
    }
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=drift_env).returncode == 0

    fired = check_alerts(client, settings)

    assert any(a.name == "drift:page_hinkley" and a.severity == "critical" for a in fired)
    assert client.xlen(f"{settings.prefix}:stream:alerts") == 1
    decisions = client.xrange(f"{settings.prefix}:retrain:decisions")
    assert [d[b"trigger"] for _, d in decisions] == [b"drift"]
    assert check_alerts(client, settings) == []  # not repeated within ML_ALERT_REPEAT


def test_model_lifecycle_events_become_alerts(
    client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    ModelRegistry(client, settings).publish_event(
        "retrain_failed", {"error": "disk full", "job_id": "j1"}
    )
    assert run_mlmon("worker", "--burst", "--groups", "alerts", env=env).returncode == 0
    listing = run_mlmon("alerts", "list", env=env).stdout
    assert "[critical] firing: retrain_failed: retraining failed: disk full" in listing


def test_alerts_test_reports_each_channel(env: dict[str, str], http_server: str) -> None:
    result = run_mlmon(
        "alerts",
        "test",
        env={
            **env,
            "ML_ALERT_WEBHOOK_URL": f"{http_server}/t",
            "ML_ALERT_SMTP_HOST": "127.0.0.1",
            "ML_ALERT_SMTP_PORT": str(free_port()),
            "ML_ALERT_EMAIL_TO": "ops@example.com",
        },
    )
    assert result.returncode == 1
    assert "webhook: sent" in result.stdout and "email: FAILED" in result.stdout
    assert len(Recorder.received) == 1


def test_slack_and_telegram_formats_reach_their_endpoints(
    client: redis.Redis, env: dict[str, str], http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_with(
        env,
        monkeypatch,
        ML_ALERT_SLACK_WEBHOOK_URL=f"{http_server}/slack",
        ML_ALERT_TELEGRAM_TOKEN="123:secret",
        ML_ALERT_TELEGRAM_CHAT_ID="-42",
        ML_ALERT_TELEGRAM_API_BASE=http_server,
    )
    notify(client, settings, [Alert("lag:logs", "warn", "500 behind", "firing")])
    run_deliveries(client, settings)
    bodies = [json.loads(body) for _, body in Recorder.received]
    [slack, telegram] = sorted(bodies, key=lambda b: "chat_id" in b)
    assert "[WARN] firing: lag:logs: 500 behind" in slack["text"]
    assert telegram["chat_id"] == "-42" and "lag:logs" in telegram["text"]
    status = json.loads(run_mlmon("status", "--json", env=env).stdout)
    assert "123:secret" not in json.dumps(status)
