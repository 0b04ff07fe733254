"""`mlmon demo`: synthetic traffic through the real workers, then the dashboard."""

from __future__ import annotations

import click

from worker.cli.common import EXIT_UNAVAILABLE, fail, redis_or_exit, say, settings_or_exit
from worker.local.demo import DemoError, run_demo
from worker.local.embedded_redis import EmbeddedRedisError, redis_for_local_use
from worker.status.snapshot import build_status
from worker.status.text import render


@click.command()
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
