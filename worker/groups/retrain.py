"""Group `retrain`: completion events become retraining requests to the gate.

`BACKTEST_COMPLETED` always asks; `ANALYSIS_COMPLETED` asks when it covered more than
`ML_RETRAIN_ANALYSIS_MIN_STOCKS` stocks. Each trigger event is decided once: the gate
marks its event id in the same atomic step, so a redelivered trigger changes nothing.
Every `ML_RETRAIN_CHECK_MINUTES` the group also asks on schedule, when the gate would
accept (interval passed, enough new labelled rows), without recording a refusal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

import redis

from producer_sdk.events import AnalysisCompleted, BacktestCompleted
from producer_sdk.streams import StreamName
from worker.consumer.codec import Delivery
from worker.consumer.handler import Rejected
from worker.consumer.topology import GROUP_STREAMS, GroupName
from worker.keys import Keys
from worker.log import get_logger
from worker.retraining.gate import Trigger
from worker.retraining.request import request_retrain
from worker.settings import Settings

GROUP = GroupName.RETRAIN
log = get_logger(__name__)


class RetrainHandler:
    """Turns completion events into gate requests; checks the schedule periodically."""

    group: ClassVar[str] = GROUP
    streams: ClassVar[tuple[StreamName, ...]] = GROUP_STREAMS[GROUP]

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys.of(settings)
        self._next_check_s = 0.0

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> list[Rejected]:
        for delivery in deliveries:
            event = delivery.event
            if isinstance(event, BacktestCompleted):
                trigger, reason = (
                    Trigger.BACKTEST,
                    (
                        f"backtest {event.backtest_id} completed ({event.n_trades} trades, "
                        f"win rate {event.win_rate:.0%})"
                    ),
                )
            elif isinstance(event, AnalysisCompleted):
                if event.n_stocks <= self.settings.retrain_analysis_min_stocks:
                    continue
                trigger = Trigger.ANALYSIS
                reason = f"analysis {event.batch_id} of {event.n_stocks} stocks completed"
            else:
                continue
            decision = request_retrain(
                self.client,
                self.settings,
                trigger=trigger,
                reason=reason,
                trigger_event_id=event.event_id,
            )
            log.info("retrain requested", accepted=decision.accepted, why=decision.why)
        self.client.xack(self.keys.stream(stream), self.group, *[d.entry_id for d in deliveries])
        return []

    def periodic(self) -> None:
        """Ask on schedule when the gate would accept; cheap when it would not."""
        now_s = time.monotonic()
        if now_s < self._next_check_s:
            return
        self._next_check_s = now_s + self.settings.retrain_check_minutes * 60
        probe = request_retrain(
            self.client,
            self.settings,
            trigger=Trigger.SCHEDULE,
            reason="scheduled check",
            dry_run=True,
        )
        if probe.accepted:
            decision = request_retrain(
                self.client,
                self.settings,
                trigger=Trigger.SCHEDULE,
                reason=f"scheduled: {probe.new_samples} new labelled rows",
            )
            log.info("scheduled retrain requested", accepted=decision.accepted, why=decision.why)
