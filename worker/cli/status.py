"""`mlmon status` (the dashboard, JSON, report, export, watch) and `mlmon health`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from worker.cli.common import (
    EXIT_CONFIG,
    fail,
    fitting_redis_or_exit,
    redis_or_exit,
    settings_or_exit,
)
from worker.consumer.failures import current_faults
from worker.consumer.health import group_states, health_problems, stray_streams
from worker.consumer.topology import known_names, parse_group_names
from worker.keys import Keys
from worker.redis_conn import cluster_misdirection, replica_of
from worker.status.snapshot import build_status
from worker.status.text import render


@click.command()
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
    client = fitting_redis_or_exit(settings)
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


@click.command()
@click.option(
    "--groups", default=",".join(known_names()), show_default=True, help="Groups that must be live."
)
def health(groups: str) -> None:
    """Exit 0 when every group has a live consumer and little lag; else 1, a line per problem."""
    settings = settings_or_exit()
    client = redis_or_exit(settings)
    try:
        names = parse_group_names(groups)
    except ValueError as e:
        fail(str(e), EXIT_CONFIG)
    misdirected = cluster_misdirection(client, settings)
    if misdirected is not None:
        click.echo(misdirected)
        raise SystemExit(1)
    problems = health_problems(
        group_states(client, settings, names), max_lag=settings.health_max_lag
    )
    problems += stray_streams(client, settings)
    primary = replica_of(client)
    if primary is not None:
        problems.insert(
            0,
            f"redis: {settings.masked_redis_url()} is a read-only replica of "
            f"{primary}; point REDIS_URL at the primary (or use redis+sentinel://)",
        )
    problems += [
        f.line()
        for keys in dict.fromkeys([*Keys.partitions_of(settings), Keys.of(settings)])
        for f in current_faults(client, keys)
        if f.group in names
    ]
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(1)
    click.echo(f"ok: {', '.join(names)} live, lag at most {settings.health_max_lag}")
