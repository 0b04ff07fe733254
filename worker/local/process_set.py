"""The processes of one mlmon deployment: the set docker-compose.yml runs (a service each,
beside the exporter and the dashboard), as commands.

`mlmon up` runs one `mlmon worker` per consumer group rather than one worker with every
group: a worker's groups are threads sharing one interpreter lock, separate processes use
every core. Each keeps the default consumer name (MLMON_CONSUMER, else the host name),
which is unique within its group, and which a restarted child reuses to take back what
its predecessor left pending.

The RQ workers run as `mlmon rq-worker --queue <kind>`, not as RQ's own `rq worker`: the
child reads REDIS_URL from its environment, so a password never shows in the process list
(`rq worker --url` would put it there), and the queue name follows MLMON_PREFIX. Both use
`worker.retraining.rq_support.PreloadWorker`; the compose file runs the same commands.

The periodic checks need no process of their own: the retrain group runs its scheduled
retraining check between batches.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from worker.consumer.topology import GroupName
from worker.keys import RQ_QUEUE_KINDS
from worker.local.supervisor import ChildSpec


def local_process_set(
    groups: Sequence[str] = tuple(GroupName), *, python: str = sys.executable
) -> list[ChildSpec]:
    """A child per consumer group, then one RQ worker per queue."""
    mlmon = (python, "-m", "worker.cli")
    consumers = [
        ChildSpec(f"worker-{group}", (*mlmon, "worker", "--groups", group)) for group in groups
    ]
    rq_workers = [
        ChildSpec(f"rq-{kind}", (*mlmon, "rq-worker", "--queue", kind)) for kind in RQ_QUEUE_KINDS
    ]
    return consumers + rq_workers
