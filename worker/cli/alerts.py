"""`mlmon alerts list` and `mlmon alerts test`."""

from __future__ import annotations

import json

import click

from worker.alerts.channels import DeliveryError, send
from worker.alerts.configured import configured_channels
from worker.alerts.notify import notify
from worker.alerts.rules import Alert, AlertStatus
from worker.alerts.summary import recent_alerts
from worker.cli.common import redis_or_exit, settings_or_exit
from worker.levels import Severity


@click.group()
def alerts() -> None:
    """Alerts: what fired, and a test through every configured channel."""


@alerts.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def alerts_list(limit: int, as_json: bool) -> None:
    """The newest alerts from the alerts stream."""
    settings = settings_or_exit()
    rows = recent_alerts(redis_or_exit(settings), settings, limit=limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(
                f"{row['ts']}  [{row['severity']}] {row['status']}: {row['name']}: {row['summary']}"
            )
    if not rows and not as_json:
        click.echo("no alerts")


@alerts.command("test")
def alerts_test() -> None:
    """Send a test alert through every configured channel now; report each; exit 1 if any fails."""
    settings = settings_or_exit()
    client = redis_or_exit(settings)
    test = [
        Alert("test", Severity.INFO, "a test alert from `mlmon alerts test`", AlertStatus.FIRING)
    ]
    notification = notify(client, settings, test, enqueue=False)
    assert notification is not None
    click.echo("stream: sent")
    failed = False
    for channel in configured_channels(settings):
        try:
            send(channel, notification, settings)
            click.echo(f"{channel}: sent")
        except DeliveryError as e:
            failed = True
            click.echo(f"{channel}: FAILED ({e})")
    if failed:
        raise SystemExit(1)
