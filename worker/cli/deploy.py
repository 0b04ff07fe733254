"""`mlmon up`: the whole service as supervised local processes; `mlmon config`; `mlmon acl`."""

from __future__ import annotations

import json
import os
import sys

import click

from worker.cli.common import EXIT_UNAVAILABLE, fail, redis_or_exit, say, settings_or_exit
from worker.cli.settings_view import effective_settings, env_lines
from worker.local.acl import acl_setuser_line, producer_acl_rules, worker_acl_rules
from worker.local.embedded_redis import EmbeddedRedisError, redis_for_local_use
from worker.local.process_set import local_process_set
from worker.local.supervisor import Supervisor


@click.command()
@click.option(
    "--grace-s",
    "grace_s",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help="Seconds the children get to finish their work after SIGTERM/SIGINT.",
)
def up(grace_s: float) -> None:
    """Run every consumer group and RQ worker as child processes, until SIGTERM/SIGINT.

    Without REDIS_URL and with nothing at the default address, starts a redis-server of
    its own (data in data/redis/). Children that exit are restarted with back-off.
    """
    settings = settings_or_exit()
    try:
        with redis_for_local_use(settings, say=say) as url:
            redis_or_exit(settings_or_exit(REDIS_URL=url)).close()
            supervisor = Supervisor(
                local_process_set(),
                env={**os.environ, "REDIS_URL": url},
                grace_s=grace_s,
                say=lambda line: say(f"mlmon up: {line}"),
            )
            code = supervisor.run()
    except EmbeddedRedisError as e:
        fail(str(e), EXIT_UNAVAILABLE)
    sys.exit(code)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def config(as_json: bool) -> None:
    """Print the settings in effect, one VARIABLE=value a line (the Redis password masked)."""
    view = effective_settings(settings_or_exit())
    if as_json:
        click.echo(json.dumps(view, indent=2))
        return
    for line in env_lines(view):
        click.echo(line)


@click.command()
@click.option("--producer-password", default="CHANGE-ME", show_default=True)
@click.option("--worker-password", default="CHANGE-ME", show_default=True)
def acl(producer_password: str, worker_password: str) -> None:
    """Print least-privilege ACL users for MLMON_PREFIX: paste them into redis-cli."""
    settings = settings_or_exit()
    click.echo(
        acl_setuser_line(
            "mlmon-producer",
            producer_password,
            producer_acl_rules(settings.prefix, settings.partitions),
        )
    )
    click.echo(
        acl_setuser_line(
            "mlmon-worker",
            worker_password,
            worker_acl_rules(settings.prefix, settings.rq_prefix, settings.partitions),
        )
    )
