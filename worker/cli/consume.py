"""`mlmon worker`: run consumer groups on the streams."""

from __future__ import annotations

import socket
import sys
import threading

import click

from producer_sdk.streams import CONTROL_STREAMS
from worker.cli.common import EXIT_CONFIG, fail, fitting_redis_or_exit, settings_or_exit
from worker.consumer.runtime import GroupConsumer
from worker.consumer.service import run_consumers, tune_gc_for_consuming
from worker.consumer.topology import GROUP_STREAMS, GroupName, known_names, parse_group_names
from worker.groups import build_consumers, import_groups
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
@click.option(
    "--partitions",
    "partition_text",
    default=None,
    help="With MLMON_PARTITIONS > 1: the partitions to consume, e.g. 0-3 or 0,2 (default: all).",
)
def worker(
    groups: str, burst: bool, threads: bool, consumer: str, partition_text: str | None
) -> None:
    """Run consumer groups on the streams."""
    try:
        names = parse_group_names(groups)
    except ValueError as e:
        fail(str(e), EXIT_CONFIG)
    settings = settings_or_exit()
    try:
        partitions = parse_partitions(partition_text, settings.partitions)
    except ValueError as e:
        fail(f"--partitions: {e}", EXIT_CONFIG)
    fitting_redis_or_exit(settings).close()
    if len(names) > 1 and not threads:
        import_groups(names)  # once, in the parent: the children fork with them loaded

        def run_group(group: str) -> int:
            return _run(settings, [GroupName(group)], partitions, burst=burst, consumer=consumer)

        sys.exit(run_group_processes([n.value for n in names], run_group, burst=burst))
    sys.exit(_run(settings, names, partitions, burst=burst, consumer=consumer))


def _run(
    settings: Settings, names: list[GroupName], partitions: list[int], *, burst: bool, consumer: str
) -> int:
    stop = threading.Event()
    try:
        consumers = partition_consumers(
            settings, names, partitions=partitions, consumer=consumer, stop=stop
        )
    except SettingsError as e:
        fail(str(e), EXIT_CONFIG)
    tune_gc_for_consuming()
    return run_consumers(consumers, burst=burst, stop=stop)


def partition_consumers(
    settings: Settings,
    names: list[GroupName],
    *,
    partitions: list[int],
    consumer: str,
    stop: threading.Event,
) -> list[GroupConsumer]:
    """The groups on prediction and outcome streams once per partition; the groups on the
    shared streams (retrain, alerts) once, on the control tag."""
    if settings.partitions == 1:
        return build_consumers(settings, names, consumer=consumer, stop=stop)
    shared = [name for name in names if set(GROUP_STREAMS[name]) <= CONTROL_STREAMS]
    split = [name for name in names if name not in shared]
    consumers = build_consumers(settings, shared, consumer=consumer, stop=stop)
    for index in partitions:
        part = settings.for_partition(index)
        consumers += build_consumers(part, split, consumer=consumer, stop=stop)
    return consumers


def parse_partitions(text: str | None, count: int) -> list[int]:
    """'0-3', '0,2,5' or '1-2,7' -> partition numbers; None -> all of them."""
    if text is None:
        return list(range(count))
    chosen: set[int] = set()
    for item in (part.strip() for part in text.split(",")):
        first, dash, last = item.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError as e:
            raise ValueError(f"{item!r} is not a number or a range like 0-3") from e
        if not 0 <= low <= high < count:
            raise ValueError(f"{item!r} is outside 0-{count - 1} (MLMON_PARTITIONS={count})")
        chosen.update(range(low, high + 1))
    return sorted(chosen)
