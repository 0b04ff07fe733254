"""The `mlmon` command."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import click

from producer_sdk import event_json_schemas
from worker.acl import acl_setuser_line, producer_acl_rules, worker_acl_rules
from worker.cli_alerts import alerts
from worker.cli_common import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    fail,
    redis_or_exit,
    say,
    settings_or_exit,
)
from worker.cli_deploy import config, up
from worker.cli_dlq import dlq, spool
from worker.cli_drift import baseline
from worker.cli_retraining import models, retrain, rq_worker
from worker.cli_web import dashboard, exporter
from worker.dashboard import render
from worker.demo_run import DemoError, run_demo
from worker.embedded_redis import EmbeddedRedisError, redis_for_local_use
from worker.groups import GROUPS
from worker.health import group_states, health_problems
from worker.service import build_consumers, run_consumers
from worker.settings import SettingsError
from worker.status import build_status


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlmon")
def cli() -> None:
    """mlmon: monitoring, feedback and retraining for a trading pipeline's ML verdicts."""


@cli.command()
@click.option(
    "--groups",
    default=",".join(GROUPS),
    show_default=True,
    help="Comma-separated consumer groups to run.",
)
@click.option("--burst", is_flag=True, help="Drain what is in the streams now, then exit 0.")
@click.option(
    "--consumer",
    envvar="MLMON_CONSUMER",
    default=socket.gethostname(),
    show_default="the host name",
    help="Consumer name; a restarted worker with the same name resumes its pending entries.",
)
def worker(groups: str, burst: bool, consumer: str) -> None:
    """Run consumer groups on the streams."""
    names = [name.strip() for name in groups.split(",") if name.strip()]
    unknown = sorted(set(names) - set(GROUPS))
    if unknown or not names:
        fail(
            f"unknown group(s) {', '.join(unknown) or '(none)'}; known: {', '.join(GROUPS)}",
            EXIT_CONFIG,
        )
    settings = settings_or_exit()
    redis_or_exit(settings).close()
    stop = threading.Event()
    try:
        consumers = build_consumers(settings, names, consumer=consumer, stop=stop)
    except SettingsError as e:
        fail(str(e), EXIT_CONFIG)
    sys.exit(run_consumers(consumers, burst=burst, stop=stop))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--report", is_flag=True, help="Print a plain-text report.")
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report (or JSON, for a .json file) to a file.",
)
@click.option("--detailed", is_flag=True, help="Add the per-window breakdown.")
@click.option("--watch", is_flag=True, help="Refresh in place until interrupted.")
@click.option(
    "--interval", default=2.0, show_default=True, help="Seconds between --watch refreshes."
)
def status(
    as_json: bool,
    report: bool,
    export_path: Path | None,
    detailed: bool,
    watch: bool,
    interval: float,
) -> None:
    """Show the monitoring dashboard."""
    settings = settings_or_exit()
    client = redis_or_exit(settings)
    if export_path is not None:
        snapshot = build_status(client, settings)
        if export_path.suffix == ".json":
            text = json.dumps(snapshot, indent=2) + "\n"
        else:
            text = render(snapshot, zone=settings.zone, plain=True, detailed=True)
        export_path.parent.mkdir(parents=True, exist_ok=True)
        export_path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {export_path}")
        return
    if as_json:
        click.echo(json.dumps(build_status(client, settings)))
        return
    if not watch:
        click.echo(
            render(
                build_status(client, settings), zone=settings.zone, plain=report, detailed=detailed
            ),
            nl=False,
        )
        return
    try:
        while True:
            screen = render(build_status(client, settings), zone=settings.zone, detailed=detailed)
            click.echo("\x1b[H\x1b[2J" + screen, nl=False)
            time.sleep(interval)
    except KeyboardInterrupt:
        pass


@cli.command()
@click.option("--type", "event_type", help="Only this event type (e.g. prediction).")
def schema(event_type: str | None) -> None:
    """Print the JSON Schema of every event, for producers in other languages."""
    schemas = event_json_schemas()
    if event_type is not None:
        if event_type not in schemas:
            fail(f"unknown event type {event_type!r}; known: {', '.join(schemas)}", EXIT_CONFIG)
        schemas = {event_type: schemas[event_type]}
    click.echo(json.dumps(schemas, indent=2))


@cli.command()
@click.option(
    "--predictions", "count", default=5_000, show_default=True, help="How many to publish."
)
@click.option("--seed", default=7, show_default=True, help="Seed of the synthetic traffic.")
def demo(count: int, seed: int) -> None:
    """Publish synthetic traffic, process it with the real workers, show the dashboard."""
    settings = settings_or_exit()
    try:
        with redis_for_local_use(settings, say=say) as url:
            settings = settings_or_exit(REDIS_URL=url)
            client = redis_or_exit(settings)
            try:
                run_demo(client, settings, count=count, seed=seed, say=say)
            except DemoError as e:
                fail(str(e), EXIT_UNAVAILABLE)
            status_text = render(build_status(client, settings), zone=settings.zone, detailed=True)
            click.echo(status_text, nl=False)
    except EmbeddedRedisError as e:
        fail(str(e), EXIT_UNAVAILABLE)


@cli.command()
@click.option(
    "--groups", default=",".join(GROUPS), show_default=True, help="Groups that must be live."
)
def health(groups: str) -> None:
    """Exit 0 when every group has a live consumer and little lag; else 1, a line per problem."""
    settings = settings_or_exit()
    client = redis_or_exit(settings)
    names = [name.strip() for name in groups.split(",") if name.strip()]
    unknown = sorted(set(names) - set(GROUPS))
    if unknown:
        fail(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}", EXIT_CONFIG)
    problems = health_problems(
        group_states(client, settings, names), max_lag=settings.health_max_lag
    )
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(1)
    click.echo(f"ok: {', '.join(names)} live, lag at most {settings.health_max_lag}")


@cli.command()
@click.option("--producer-password", default="CHANGE-ME", show_default=True)
@click.option("--worker-password", default="CHANGE-ME", show_default=True)
def acl(producer_password: str, worker_password: str) -> None:
    """Print least-privilege ACL users for MLMON_PREFIX: paste them into redis-cli."""
    settings = settings_or_exit()
    click.echo(
        acl_setuser_line("mlmon-producer", producer_password, producer_acl_rules(settings.prefix))
    )
    click.echo(acl_setuser_line("mlmon-worker", worker_password, worker_acl_rules(settings.prefix)))


cli.add_command(alerts)
cli.add_command(dlq)
cli.add_command(spool)
cli.add_command(retrain)
cli.add_command(models)
cli.add_command(baseline)
cli.add_command(rq_worker)
cli.add_command(up)
cli.add_command(config)
cli.add_command(exporter)
cli.add_command(dashboard)


def main() -> None:
    cli(prog_name="mlmon")


if __name__ == "__main__":
    main()
