"""`mlmon rq-worker`: RQ's worker for mlmon's queues, configured from the environment.

A module of its own: it preloads scikit-learn for the forked jobs, which no other command
should pay for.
"""

from __future__ import annotations

import click
from rq import Queue
from rq.serializers import JSONSerializer

from worker.cli.common import redis_or_exit, settings_or_exit
from worker.keys import RQ_QUEUE_KINDS, Keys
from worker.retraining.rq_support import PreloadWorker


@click.command("rq-worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option(
    "--queue",
    "queue_kind",
    type=click.Choice(RQ_QUEUE_KINDS),
    default="retraining",
    show_default=True,
    help="Which queue: <MLMON_PREFIX>-retraining or <MLMON_PREFIX>-alerts.",
)
def rq_worker(burst: bool, queue_kind: str) -> None:
    """An RQ worker for one of mlmon's queues (JSON serializer; scikit-learn preloaded).

    Its scheduler runs too (not in burst mode): failed jobs retry after an interval, and
    RQ moves a job whose interval has passed back to its queue only in a worker that runs
    the scheduler.
    """
    settings = settings_or_exit()
    client = redis_or_exit(settings)
    queue = Queue(
        Keys(settings.prefix).rq_queues[queue_kind], connection=client, serializer=JSONSerializer
    )
    PreloadWorker([queue], connection=client, serializer=JSONSerializer).work(
        burst=burst, with_scheduler=not burst
    )
