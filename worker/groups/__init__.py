"""The consumer groups: each is one concern with its own handler and its own progress."""

from __future__ import annotations

from collections.abc import Callable

import redis

from producer_sdk.streams import StreamName
from worker.groups.alerts import AlertsHandler
from worker.groups.feedback import FeedbackHandler
from worker.groups.logs import LogsHandler
from worker.groups.metrics import MetricsHandler
from worker.groups.retrain import RetrainHandler
from worker.runtime import Handler
from worker.settings import Settings

GROUPS: dict[str, Callable[[redis.Redis, Settings], Handler]] = {
    LogsHandler.group: LogsHandler,
    MetricsHandler.group: MetricsHandler,
    FeedbackHandler.group: FeedbackHandler,
    RetrainHandler.group: RetrainHandler,
    AlertsHandler.group: AlertsHandler,
}
GROUP_STREAMS: dict[str, tuple[StreamName, ...]] = {
    handler.group: handler.streams
    for handler in (LogsHandler, MetricsHandler, FeedbackHandler, RetrainHandler, AlertsHandler)
}
