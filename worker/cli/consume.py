"""`mlmon worker`: run consumer groups on the streams."""

from __future__ import annotations

import socket
import sys
import threading

import click

from worker.cli.common import EXIT_CONFIG, fail, redis_or_exit, settings_or_exit
from worker.consumer.service import run_consumers
from worker.consumer.topology import GroupName, known_names, parse_group_names
from worker.groups import build_consumers
from worker.local.group_processes import run_group_processes
from worker.settings import Settings, SettingsError


@click.command()
@click.option(
    "--groups",
    default=",".join(known_names()),
    show_default=True,
    help="Comma-separated consumer groups to run.",
)
@click.option("--burst", is_flag=True, help="Drain what is in the streams now, then exit 0.")
@click.option(
    "--threads",
    is_flag=True,
    help="Run the groups as threads of this one process (default: a process per group).",
)
@click.option(
    "--consumer",
    envvar="MLMON_CONSUMER",
    default=socket.gethostname(),
    show_default="the host name",
    help="Consumer name; a restarted worker with the same name resumes its pending entries.",
)
def worker(groups: str, burst: bool, threads: bool, consumer: str) -> None:
    """Run consumer groups on the streams."""
    try:
        names = parse_group_names(groups)
    except ValueError as e:
        fail(str(e), EXIT_CONFIG)
    settings = settings_or_exit()
    redis_or_exit(settings).close()
    if len(names) > 1 and not threads:

        def run_group(group: str) -> int:
            return _run(settings, [GroupName(group)], burst=burst, consumer=consumer)

        sys.exit(run_group_processes([n.value for n in names], run_group, burst=burst))
    sys.exit(_run(settings, names, burst=burst, consumer=consumer))


def _run(settings: Settings, names: list[GroupName], *, burst: bool, consumer: str) -> int:
    stop = threading.Event()
    try:
        consumers = build_consumers(settings, names, consumer=consumer, stop=stop)
    except SettingsError as e:
        fail(str(e), EXIT_CONFIG)
    return run_consumers(consumers, burst=burst, stop=stop)
