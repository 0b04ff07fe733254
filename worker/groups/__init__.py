"""The consumer groups: each is one concern with its own handler and its own progress.

Importing this package imports every handler (and so rq and scikit-learn); code that only
needs to know which group reads which stream uses `worker.consumer.topology`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import redis

from worker.consumer.handler import Handler
from worker.consumer.runtime import GroupConsumer
from worker.consumer.topology import GROUP_STREAMS, STREAM_READERS, GroupName
from worker.groups.alerts import AlertsHandler
from worker.groups.feedback import FeedbackHandler
from worker.groups.logs import LogsHandler
from worker.groups.metrics import MetricsHandler
from worker.groups.retrain import RetrainHandler
from worker.redis_conn import connect
from worker.settings import Settings

GROUPS: dict[GroupName, Callable[[redis.Redis, Settings], Handler]] = {
    GroupName.LOGS: LogsHandler,
    GroupName.METRICS: MetricsHandler,
    GroupName.FEEDBACK: FeedbackHandler,
    GroupName.RETRAIN: RetrainHandler,
    GroupName.ALERTS: AlertsHandler,
}


def build_consumers(
    settings: Settings, groups: Sequence[GroupName], *, consumer: str, stop: threading.Event
) -> list[GroupConsumer]:
    """One consumer (and one Redis connection) per group."""
    consumers = []
    for name in groups:
        client = connect(settings)
        handler = GROUPS[name](client, settings)
        consumers.append(
            GroupConsumer(
                handler,
                client,
                settings=settings,
                consumer=consumer,
                stop=stop,
                stream_readers=STREAM_READERS,
            )
        )
    return consumers


__all__ = ["GROUPS", "GROUP_STREAMS", "GroupName", "build_consumers"]
