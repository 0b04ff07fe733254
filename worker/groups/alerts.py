"""Group `alerts`: model lifecycle events become alerts at once; every `ML_ALERT_CHECK_S`
the rules are evaluated on a status snapshot (one consumer at a time, under a lock).

A drift that turns critical also asks the retraining gate for a run
(`ML_RETRAIN_ON_DRIFT`), subject to all of its limits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import ClassVar

import redis

from producer_sdk.streams import StreamName
from worker.alerts.conditions import conditions_of
from worker.alerts.notify import notify
from worker.alerts.rules import Alert, AlertState, AlertStatus, evaluate
from worker.consumer.codec import Delivery
from worker.consumer.handler import RawRejected, Rejected
from worker.consumer.topology import GROUP_STREAMS, GroupName
from worker.keys import Keys
from worker.levels import Severity
from worker.log import get_logger
from worker.retraining.gate import Trigger
from worker.retraining.request import request_retrain
from worker.settings import Settings
from worker.status.snapshot import build_status

GROUP = GroupName.ALERTS
LIFECYCLE = {
    "model_promoted": (Severity.INFO, "model version {version} promoted"),
    "model_rejected": (Severity.WARN, "candidate version {version} rejected: {why}"),
    "model_rolled_back": (Severity.WARN, "model rolled back to version {version}"),
    "retrain_failed": (Severity.CRITICAL, "retraining failed: {error}"),
}
DEAD_COUNT_FIELD = "__dead_letters"
log = get_logger(__name__)


class AlertsHandler:
    """Turns lifecycle events and rule evaluations into notifications."""

    group: ClassVar[str] = GROUP
    streams: ClassVar[tuple[StreamName, ...]] = GROUP_STREAMS[GROUP]

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys.of(settings)
        self._next_check_s = 0.0

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> list[Rejected]:
        """Never called: the runtime hands this group raw entries (`handle_raw`)."""
        raise NotImplementedError

    def handle_raw(self, entries: list[tuple[str, dict[bytes, bytes]]]) -> list[RawRejected]:
        """Lifecycle events (written by mlmon itself, not by producers); an entry that is
        not a JSON object in its `event` field is refused (dead-lettered), not retried."""
        alerts, used, refused = [], [], []
        for entry_id, fields in entries:
            try:
                event = json.loads(fields.get(b"event", b"{}"))
                if not isinstance(event, dict):
                    raise TypeError(f"a JSON {type(event).__name__}, not an object")
            except (ValueError, TypeError) as e:
                refused.append((entry_id, f"not a lifecycle event: {e}"))
                continue
            used.append(entry_id)
            kind = LIFECYCLE.get(str(event.get("type", "")))
            if kind is not None:
                severity, template = kind
                values = {"version": "?", "why": "", "error": "", **event}
                summary = template.format_map(values)
                alerts.append(Alert(str(event["type"]), severity, summary, AlertStatus.FIRING))
        notify(self.client, self.settings, alerts)
        if used:
            self.client.xack(self.keys.stream(StreamName.MODELS), self.group, *used)
        return refused

    def periodic(self) -> None:
        now_s = time.monotonic()
        if now_s < self._next_check_s:
            return
        self._next_check_s = now_s + self.settings.alert_check_s
        lock_s = max(5, int(self.settings.alert_check_s))
        if self.client.set(self.keys.alerts_lock, "1", nx=True, ex=lock_s):
            check_alerts(self.client, self.settings)


def check_alerts(
    client: redis.Redis,
    settings: Settings,
    *,
    now_s: float | None = None,
    only: tuple[str, ...] | None = None,
) -> list[Alert]:
    """Evaluate every rule once (or those whose names start with one of `only`); send
    what fires or resolves as one notification."""
    keys = Keys.of(settings)
    status = build_status(client, settings)
    raw: dict[bytes, bytes] = client.hgetall(keys.alerts_state)  # type: ignore[assignment]
    stored = {k.decode(): v for k, v in raw.items()}
    last_dead = int(stored.pop(DEAD_COUNT_FIELD, b"0"))
    state = {name: AlertState(**json.loads(value)) for name, value in stored.items()}
    conditions = conditions_of(status, last_dead_letters=last_dead, max_lag=settings.alert_lag)
    if only is not None:
        conditions = [c for c in conditions if c.name.startswith(only)]
    result = evaluate(
        conditions,
        state,
        now_s=time.time() if now_s is None else now_s,
        for_s=settings.alert_for_s,
        repeat_s=settings.alert_repeat_s,
    )
    mapping = {name: json.dumps(s.as_dict()) for name, s in result.state.items()}
    mapping[DEAD_COUNT_FIELD] = str(status["dead_letters"])
    client.hset(keys.alerts_state, mapping=mapping)  # type: ignore[arg-type]
    notify(client, settings, result.alerts)
    drift = status["drift"]
    if settings.retrain_on_drift and any(
        a.name.startswith("drift:")
        and a.severity is Severity.CRITICAL
        and a.status is AlertStatus.FIRING
        for a in result.alerts
    ):
        decision = request_retrain(
            client, settings, trigger=Trigger.DRIFT, reason=f"drift {drift['severity']}"
        )
        log.info("retrain requested on drift", accepted=decision.accepted, why=decision.why)
    return result.alerts
