"""`mlmon rq-worker`: RQ's worker for mlmon's queues, configured from the environment.

A module of its own: it preloads scikit-learn for the forked jobs, which no other command
should pay for.
"""

from __future__ import annotations

import socket

import click
from redis import Redis
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from worker.cli.common import redis_or_exit, settings_or_exit
from worker.keys import RQ_QUEUE_KINDS, Keys
from worker.retraining.rq_support import PreloadWorker

# RQ waits for a job in one blocking read of `worker_ttl - 15` s. A stop signal while idle
# interrupts that read, and with a Sentinel-managed connection (which redis-py does not drop
# on an interrupted read) RQ's clean-up then waits for the read's end: 420 s by RQ's default,
# 20 s with this, inside compose's 30 s stop grace.
WORKER_TTL_S = 35


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
@click.option(
    "--check",
    is_flag=True,
    help="Run nothing: exit 0 when an RQ worker of this host serves the queue (a healthcheck).",
)
def rq_worker(burst: bool, queue_kind: str, check: bool) -> None:
    """An RQ worker for one of mlmon's queues (JSON serializer; scikit-learn preloaded).

    Its scheduler runs too (not in burst mode): failed jobs retry after an interval, and
    RQ moves a job whose interval has passed back to its queue only in a worker that runs
    the scheduler.
    """
    settings = settings_or_exit()
    client = redis_or_exit(settings, rq=True)
    queue_name = Keys.of(settings).rq_queues[queue_kind]
    if check:
        _check_rq_worker(client, queue_name)
        return
    queue = Queue(queue_name, connection=client, serializer=JSONSerializer)
    worker = PreloadWorker(
        [queue], connection=client, serializer=JSONSerializer, worker_ttl=WORKER_TTL_S
    )
    worker.work(burst=burst, with_scheduler=not burst)


def _check_rq_worker(client: Redis, queue_name: str) -> None:
    """RQ registers every worker with a heartbeat TTL: one of this host on the queue is live."""
    host = socket.gethostname()
    queue = Queue(queue_name, connection=client, serializer=JSONSerializer)
    mine = [w for w in Worker.all(queue=queue) if w.hostname == host]
    if not mine:
        click.echo(f"no RQ worker of {host} serves {queue_name}")
        raise SystemExit(1)
    click.echo(f"ok: {', '.join(w.name for w in mine)} serves {queue_name}")
