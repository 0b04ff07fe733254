"""Why a batch failed, and what that may do to its entries.

An environment fault (a full or read-only disk, a permission, Redis itself) says nothing
about the entries: they stay pending, however long the fault lasts, and never count
toward the poison rule. Only an entry that fails on its own, retried alone after its
batch failed, counts; `ML_MAX_DELIVERIES` such failures make it poison.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from producer_sdk.streams import StreamName
from worker.keys import Keys
from worker.log import get_logger
from worker.redis_values import as_text

log = get_logger(__name__)

FAULT_REPORT_FRESH_S = 90.0  # a report older than this belongs to a consumer gone since


class EnvironmentFault(Exception):
    """Something outside the entries that an operator must fix (a broken file, say);
    the message says how."""


def is_environment_fault(error: BaseException) -> bool:
    """Disk, permission and Redis errors, and `EnvironmentFault`: the entries are not to blame."""
    return isinstance(error, OSError | redis.RedisError | EnvironmentFault)


class EntriesFailed(Exception):
    """Entries that failed on their own; they stay pending and are retried alone."""

    def __init__(self, entry_ids: list[str]) -> None:
        super().__init__(f"{len(entry_ids)} entries failed on their own: {', '.join(entry_ids)}")
        self.entry_ids = entry_ids


class EntryFailures:
    """Per group, how often each pending entry failed on its own (a Redis hash)."""

    def __init__(self, client: redis.Redis, keys: Keys, group: str) -> None:
        self.client = client
        self.key = keys.failures(group)

    @staticmethod
    def _field(stream: StreamName, entry_id: str) -> str:
        return f"{stream.value}:{entry_id}"

    def counts(self, stream: StreamName, entry_ids: list[str]) -> dict[str, int]:
        """Failures of those entries that have any."""
        raw: list[Any] = self.client.hmget(self.key, [self._field(stream, i) for i in entry_ids])
        return {i: int(n) for i, n in zip(entry_ids, raw, strict=True) if n is not None}

    def record(self, stream: StreamName, entry_id: str) -> int:
        return int(self.client.hincrby(self.key, self._field(stream, entry_id), 1))

    def forget(self, stream: StreamName, entry_ids: list[str]) -> None:
        if entry_ids:
            self.client.hdel(self.key, *[self._field(stream, i) for i in entry_ids])


@dataclass(frozen=True)
class FaultReport:
    """A consumer held up by an environment fault (`mlmon health` shows it)."""

    group: str
    consumer: str
    error: str
    since: float
    at: float

    def line(self) -> str:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.since))
        return (
            f"group {self.group} consumer {self.consumer}: environment fault since {since}, "
            f"entries stay pending until it clears: {self.error}"
        )


def log_failure(error: Exception, failures: int) -> None:
    """Once per streak of failures, not per retry: an outage is one story."""
    if failures != 1:
        log.debug("still failing", failures=failures, error=str(error))
    elif isinstance(error, redis.RedisError):
        log.warning("redis unavailable, retrying with back-off", error=str(error))
    elif is_environment_fault(error):
        log.error(
            "environment fault: the batch stays pending until it clears, "
            "and this never makes an entry poison",
            error=str(error),
        )
    elif isinstance(error, EntriesFailed):
        log.warning("entries failed on their own; retried alone with back-off", error=str(error))
    else:
        log.exception("batch failed; it stays pending and is retried with back-off")


class FaultReporter:
    """Says in Redis that one consumer is held up by a disk or permission fault, from the
    first failure until it clears (`mlmon health` reads it; Redis faults show as lag)."""

    def __init__(self, client: redis.Redis, keys: Keys, *, group: str, consumer: str) -> None:
        self.client = client
        self.keys = keys
        self.field = f"{group}:{consumer}"
        self.since: float | None = None

    def report(self, error: Exception) -> bool:
        """True when `error` was an environment fault Redis could be told about."""
        if not is_environment_fault(error) or isinstance(error, redis.RedisError):
            return False
        self.since = self.since or time.time()
        payload = {"error": str(error), "since": self.since, "at": time.time()}
        try:
            self.client.hset(self.keys.faults, self.field, json.dumps(payload))
        except redis.RedisError:
            return False
        return True

    def clear(self) -> None:
        if self.since is not None:
            self.since = None
            self.client.hdel(self.keys.faults, self.field)


def current_faults(client: redis.Redis, keys: Keys) -> list[FaultReport]:
    """Faults reported recently (a consumer renews its report while the fault lasts)."""
    raw: dict[bytes, bytes] = client.hgetall(keys.faults)  # type: ignore[assignment]
    now_s = time.time()
    reports = []
    for name, value in raw.items():
        group, _, consumer = as_text(name).partition(":")
        try:
            data = json.loads(value)
            report = FaultReport(
                group, consumer, str(data["error"]), float(data["since"]), float(data["at"])
            )
        except (ValueError, KeyError, TypeError):
            continue
        if now_s - report.at <= FAULT_REPORT_FRESH_S:
            reports.append(report)
    return sorted(reports, key=lambda r: (r.group, r.consumer))
