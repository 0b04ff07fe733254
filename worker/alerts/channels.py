"""Notification channels beyond the alerts stream: webhook, Slack, Telegram, email.

Each `send_*` raises on failure (the RQ job retries it). Secrets come from the settings
and never appear in messages or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from worker.alerts.configured import Channel
from worker.levels import worst_severity
from worker.settings import Settings

TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Mlmon-Signature"


class DeliveryError(Exception):
    """A channel refused or did not answer; the message names the channel, not secrets."""


def text_of(notification: dict[str, Any]) -> str:
    lines = [f"mlmon ({notification['prefix']}): {len(notification['alerts'])} alert(s)"]
    for alert in notification["alerts"]:
        severity, status = alert["severity"].upper(), alert["status"]
        lines.append(f"[{severity}] {status}: {alert['name']}: {alert['summary']}")
    return "\n".join(lines)


def send(channel: str, notification: dict[str, Any], settings: Settings) -> None:
    senders = {
        Channel.WEBHOOK: send_webhook,
        Channel.SLACK: send_slack,
        Channel.TELEGRAM: send_telegram,
        Channel.EMAIL: send_email,
    }
    senders[Channel(channel)](notification, settings)


def send_webhook(notification: dict[str, Any], settings: Settings) -> None:
    body = json.dumps(notification, sort_keys=True).encode()
    headers = {"Content-Type": "application/json"}
    if settings.alert_webhook_secret:
        secret = settings.alert_webhook_secret.get_secret_value().encode()
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    _post("webhook", str(settings.alert_webhook_url), body, headers)


def send_slack(notification: dict[str, Any], settings: Settings) -> None:
    assert settings.alert_slack_webhook_url is not None
    body = json.dumps({"text": text_of(notification)}).encode()
    url = settings.alert_slack_webhook_url.get_secret_value()
    _post("slack", url, body, {"Content-Type": "application/json"})


def send_telegram(notification: dict[str, Any], settings: Settings) -> None:
    assert settings.alert_telegram_token is not None
    token = settings.alert_telegram_token.get_secret_value()
    url = f"{settings.alert_telegram_api_base.rstrip('/')}/bot{token}/sendMessage"
    body = json.dumps(
        {"chat_id": settings.alert_telegram_chat_id, "text": text_of(notification)}
    ).encode()
    _post("telegram", url, body, {"Content-Type": "application/json"})


def send_email(notification: dict[str, Any], settings: Settings) -> None:
    message = EmailMessage()
    worst = worst_severity(a["severity"] for a in notification["alerts"])
    message["Subject"] = f"[mlmon {worst}] {len(notification['alerts'])} alert(s)"
    message["From"] = settings.alert_email_from
    message["To"] = settings.alert_email_to
    message.set_content(text_of(notification))
    try:
        with smtplib.SMTP(
            str(settings.alert_smtp_host), settings.alert_smtp_port, timeout=TIMEOUT_S
        ) as smtp:
            if settings.alert_smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.alert_smtp_user:
                password = settings.alert_smtp_password
                smtp.login(
                    settings.alert_smtp_user, password.get_secret_value() if password else ""
                )
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(
            f"email via {settings.alert_smtp_host}:{settings.alert_smtp_port}: {e}"
        ) from e


def _post(channel: str, url: str, body: bytes, headers: dict[str, str]) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            if response.status >= 300:
                raise DeliveryError(f"{channel}: HTTP {response.status}")
    except urllib.error.HTTPError as e:
        raise DeliveryError(f"{channel}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DeliveryError(f"{channel}: {type(reason).__name__}") from None
