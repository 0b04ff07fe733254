"""The RQ worker class for mlmon's queues: heavy imports done once, before any fork.

RQ's `Worker` forks a work horse for every job. The horse inherits everything its parent
has imported (copy-on-write) and imports the rest itself, once per job. scikit-learn and
the job module take two to three seconds of CPU to import, on every job, while the consumer
workers beside it are busy. Importing them here, when RQ loads the worker class
(`rq worker --worker-class worker.retraining.rq_support.PreloadWorker`, or `mlmon rq-worker`), pays
that once per worker process instead.

Import this module only where a worker starts: it is slow to import on purpose.
"""

from __future__ import annotations

import redis
import sklearn
from rq import Worker

import worker.retraining.job

PRELOADED_MODULES = (sklearn, worker.retraining.job)


class PreloadWorker(Worker):
    """RQ's forking `Worker`, defined in a module that preloads what the jobs import."""

    def unsubscribe(self) -> None:
        """A stop just after a Sentinel failover may find the pub/sub connection still on
        the old primary: an unsubscribe that cannot reach a server which is gone must not
        turn a clean stop into exit code 1."""
        try:
            super().unsubscribe()  # type: ignore[no-untyped-call]
        except redis.ConnectionError as e:
            self.log.warning("Worker %s: could not unsubscribe (%s); stopping anyway", self.name, e)
            if self.pubsub_thread:
                self.pubsub_thread.stop()
                self.pubsub_thread.join(timeout=1)
