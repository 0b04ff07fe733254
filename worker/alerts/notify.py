"""Sending a notification: the alerts stream and the log at once, every other configured
channel as its own RQ job, so a slow or dead endpoint never holds back a consumer."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis

from producer_sdk.streams import StreamName
from worker.alerts.channels import DeliveryError, send
from worker.alerts.configured import configured_channels
from worker.alerts.rules import Alert
from worker.keys import Keys
from worker.log import get_logger
from worker.redis_conn import connect, connect_rq
from worker.rq_check import check_rq_prefix
from worker.settings import Settings, load_settings

if TYPE_CHECKING:
    from rq import Queue

log = get_logger(__name__)
NOTIFICATION_TTL_S = 7 * 86_400
ALERTS_STREAM_MAXLEN = 10_000


def alerts_queue(client: redis.Redis, settings: Settings) -> Queue:
    # RQ is imported when a notification goes out, not with the module: every worker
    # process imports this module, and RQ costs 70 ms of start-up
    from rq import Queue  # noqa: PLC0415
    from rq.serializers import JSONSerializer  # noqa: PLC0415

    check_rq_prefix(settings)
    return Queue(
        Keys.of(settings).alerts_queue,
        connection=connect_rq(settings, client),
        serializer=JSONSerializer,
    )


def notify(
    client: redis.Redis, settings: Settings, alerts: list[Alert], *, enqueue: bool = True
) -> dict[str, Any] | None:
    """One notification for `alerts` (grouped); returns it, or None when there is nothing.
    Without `enqueue` it only reaches the stream and the log (the caller sends it)."""
    if not alerts:
        return None
    keys = Keys.of(settings)
    notification_id = uuid.uuid4().hex[:16]
    notification = {
        "id": notification_id,
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),
        "prefix": settings.prefix,
        "alerts": [alert.as_dict() for alert in alerts],
    }
    body = json.dumps(notification, sort_keys=True)
    channels = configured_channels(settings) if enqueue else []
    pipe = client.pipeline(transaction=True)
    pipe.xadd(
        keys.stream(StreamName.ALERTS),
        {"event": body},
        maxlen=ALERTS_STREAM_MAXLEN,
        approximate=True,
    )
    if channels:
        pipe.set(keys.alert_notification(notification_id), body, ex=NOTIFICATION_TTL_S)
    pipe.execute()
    for alert in alerts:
        log.warning(
            "alert",
            name=alert.name,
            severity=alert.severity,
            status=alert.status,
            summary=alert.summary,
        )
    if not channels:
        return notification
    from rq import Retry  # noqa: PLC0415  (see `alerts_queue`)

    queue = alerts_queue(client, settings)
    for channel in channels:
        queue.enqueue_call(
            "worker.alerts.notify.deliver",
            kwargs={"notification_id": notification_id, "channel": channel},
            retry=Retry(
                max=len(settings.alert_retry_intervals_s), interval=settings.alert_retry_intervals_s
            ),
            timeout=60,
            on_failure=failure_callback(),
            description=f"alert {notification_id} via {channel}",
        )
    return notification


def deliver(*, notification_id: str, channel: str) -> str:
    """The RQ job: send one stored notification through one channel (raises to retry)."""
    settings = load_settings()
    client = connect(settings)
    try:
        raw = client.get(Keys.of(settings).alert_notification(notification_id))
        if raw is None:
            return "expired"
        send(channel, json.loads(raw), settings)
        return "sent"
    finally:
        client.close()


def failure_callback() -> Any:
    from rq import Callback  # noqa: PLC0415  (see `alerts_queue`)

    return Callback("worker.alerts.notify.record_failure")


def record_failure(
    job: Any, connection: redis.Redis, exc_type: Any, exc_value: Any, _tb: Any
) -> None:
    """RQ's on_failure hook: after the last retry, keep the failure visible in status."""
    if job.retries_left:
        return
    settings = load_settings()
    reason = str(exc_value) if isinstance(exc_value, DeliveryError) else type(exc_value).__name__
    connection.xadd(
        Keys.of(settings).alerts_failed,
        {
            "job_id": job.id,
            "channel": job.kwargs.get("channel", ""),
            "reason": reason,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        maxlen=1_000,
        approximate=True,
    )
