"""The consumer groups: each is one concern with its own handler and its own progress.

A group's handler module is imported when a consumer of it is built, not with this
package: `mlmon worker --groups metrics` then loads neither rq nor scikit-learn, which the
alerts and retrain groups need, and starts in about half the time. Code that only needs to
know which group reads which stream uses `worker.consumer.topology`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import import_module

from worker.consumer.handler import Handler
from worker.consumer.runtime import GroupConsumer
from worker.consumer.topology import GROUP_STREAMS, STREAM_READERS, GroupName
from worker.redis_conn import connect
from worker.settings import Settings

# group -> (module, handler class)
GROUPS: dict[GroupName, tuple[str, str]] = {
    GroupName.LOGS: ("worker.groups.logs", "LogsHandler"),
    GroupName.METRICS: ("worker.groups.metrics", "MetricsHandler"),
    GroupName.FEEDBACK: ("worker.groups.feedback", "FeedbackHandler"),
    GroupName.RETRAIN: ("worker.groups.retrain", "RetrainHandler"),
    GroupName.ALERTS: ("worker.groups.alerts", "AlertsHandler"),
}


def import_groups(groups: Sequence[GroupName]) -> None:
    """Import the handlers of `groups` now (before forking a process per group, say)."""
    for name in groups:
        import_module(GROUPS[name][0])


def build_consumers(
    settings: Settings, groups: Sequence[GroupName], *, consumer: str, stop: threading.Event
) -> list[GroupConsumer]:
    """One consumer (and one Redis connection) per group."""
    consumers = []
    for name in groups:
        client = connect(settings)
        module, class_name = GROUPS[name]
        handler: Handler = getattr(import_module(module), class_name)(client, settings)
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


__all__ = ["GROUPS", "GROUP_STREAMS", "GroupName", "build_consumers", "import_groups"]
