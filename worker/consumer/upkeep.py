"""The consumer's upkeep between batches, each task its own error boundary."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import redis

from worker.log import get_logger

log = get_logger(__name__)


class UpkeepTask(StrEnum):
    HEARTBEAT = "heartbeat"
    CLAIM = "claim"
    TRIM = "trim"
    PERIODIC = "periodic"


def run_guarded(task: UpkeepTask, run: Callable[[], None], *, strict: bool = False) -> None:
    """Run one upkeep task; a failure is logged as that task's and left for its next turn.
    `strict` (the end of a burst, which has no next turn) lets the failure through."""
    try:
        run()
    except (redis.ConnectionError, redis.TimeoutError) as e:
        if strict:
            raise
        # the outage the consumer's loop reports, once per streak: not once more per task
        log.debug("upkeep task skipped: redis unavailable", task=task.value, error=str(e))
    except redis.RedisError as e:
        if strict:
            raise
        log.warning("upkeep task failed: redis refused it", task=task.value, error=str(e))
    except Exception:
        if strict:
            raise
        log.exception("upkeep task failed", task=task.value)
