"""Which delivery channels the settings configure: read by `mlmon status` without
importing the channels' HTTP and SMTP code."""

from __future__ import annotations

from enum import StrEnum

from worker.settings import Settings


class Channel(StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    TELEGRAM = "telegram"
    EMAIL = "email"


def configured_channels(settings: Settings) -> list[Channel]:
    channels = []
    if settings.alert_webhook_url:
        channels.append(Channel.WEBHOOK)
    if settings.alert_slack_webhook_url:
        channels.append(Channel.SLACK)
    if settings.alert_telegram_token and settings.alert_telegram_chat_id:
        channels.append(Channel.TELEGRAM)
    if settings.alert_smtp_host and settings.alert_email_to:
        channels.append(Channel.EMAIL)
    return channels
