"""The consumer-group loop every group runs.

One loop, many groups: create the group if missing, read this consumer's own pending
entries first (what a crash left unacknowledged), then new ones in batches, each processed
by `worker.consumer.batches`: decoded through `worker.consumer.codec`, what cannot be used
sent to the dead-letter stream, the rest handed to the group's handler, which makes its
effect durable and acknowledges in one step.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis
import structlog
from redis.backoff import EqualJitterBackoff

from producer_sdk.streams import StreamName
from worker.consumer.batches import BatchRunner
from worker.consumer.failures import (
    EntriesFailed,
    FaultReporter,
    log_failure,
)
from worker.consumer.handler import (
    Handler,
    Periodic,
    StreamEntries,
)
from worker.consumer.retention import trim_stream
from worker.consumer.upkeep import UpkeepTask, run_guarded
from worker.keys import Keys
from worker.log import get_logger
from worker.redis_values import as_text, parse_stream_id
from worker.settings import Settings

log = get_logger(__name__)

RECONNECT_BACKOFF_MAX_S = 2.0  # back within 2 s of Redis (or a new primary) answering
HEARTBEAT_TTL_FACTOR = 3  # a heartbeat outlives two missed beats


class GroupConsumer:
    """Runs one handler as consumer `consumer` of its group.

    :param handler: the group's effect.
    :param client: a Redis client for this consumer.
    :param settings: batch size, block time, delivery limit, prefix.
    :param consumer: the consumer name; a restarted worker with the same name takes
        back its own pending entries first.
    :param stop: set to finish the current batch and return.
    :param stream_readers: every group that reads each stream; with it, the consumer
        trims its streams by age past what all of them acknowledged (`worker.consumer.retention`).
    """

    def __init__(
        self,
        handler: Handler,
        client: redis.Redis,
        *,
        settings: Settings,
        consumer: str,
        stop: threading.Event,
        stream_readers: Mapping[StreamName, Sequence[str]] | None = None,
    ) -> None:
        self.handler = handler
        self.client = client
        self.settings = settings
        self.consumer = consumer
        self.stop = stop
        self.keys = Keys.of(settings)
        self._stream_keys = {self.keys.stream(name): name for name in handler.streams}
        self.batches = BatchRunner(
            handler, client, settings=settings, stream_keys=self._stream_keys
        )
        self.stats = self.batches.stats
        self.fault = FaultReporter(client, self.keys, group=handler.group, consumer=consumer)
        self._next_heartbeat_s = 0.0
        self._next_claim_s = 0.0
        self._next_trim_s = 0.0
        self._retry_backoff = EqualJitterBackoff(cap=RECONNECT_BACKOFF_MAX_S, base=0.1)
        self.stream_readers = stream_readers or {}
        self._overlap = self.batches.overlap

    @property
    def group(self) -> str:
        return self.handler.group

    def run(self, *, burst: bool = False) -> None:
        """Consume until `stop` is set, or with `burst` until the streams are drained.

        In burst mode an environment fault propagates (the caller exits non-zero, the batch
        stays pending); entries that fail on their own stay pending while the burst drains
        the rest, then fail it. Otherwise faults and failures are logged and retried with
        capped back-off.
        """
        with structlog.contextvars.bound_contextvars(group=self.group, consumer=self.consumer):
            try:
                if burst:
                    self._ensure_groups()
                    self._claim_orphans()
                    self._drain_pending()
                    self._drain_new(self._last_ids())
                    self._upkeep(strict=True)
                    self._raise_failed_alone()
                    return
                self._run_forever()
            finally:
                if self._overlap is not None:
                    self._overlap.drop()  # an unsettled batch stays pending if it failed
                self._clear_heartbeat()

    def _run_forever(self) -> None:
        failures = 0
        recovered = False
        while not self.stop.is_set():
            try:
                if not recovered:
                    self._ensure_groups()
                    self._drain_pending()
                    recovered = True
                    self._raise_failed_alone()
                self._read_new_once(block_ms=self.settings.block_ms)
                self._raise_failed_alone()
                self._upkeep()
                if failures:
                    log.info("resumed", after_failures=failures)
                    self.fault.clear()
                failures = 0
            except Exception as e:  # noqa: BLE001  (the loop's error boundary: log, retry)
                if self._overlap is not None:
                    self._overlap.drop()  # whatever it did: recovery re-reads what is pending
                failures += 1
                recovered = False
                self.batches.failed_alone = []
                log_failure(e, failures)
                if self.fault.report(e):
                    with contextlib.suppress(redis.RedisError):
                        self._heartbeat()  # waiting out a full disk is alive, not dead
                self._backoff(failures)
        try:
            self.batches.settle()  # stopping finishes the batch in flight too
        except Exception as e:  # noqa: BLE001  (its entries stay pending for the next start)
            log_failure(e, failures + 1)

    def _raise_failed_alone(self) -> None:
        failed, self.batches.failed_alone = self.batches.failed_alone, []
        if failed:
            raise EntriesFailed(failed)

    def _upkeep(self, *, strict: bool = False) -> None:
        """Between batches: heartbeat, claim what dead consumers left, trim, the handler's own.

        Each task is its own error boundary: a failure is logged as that task's and retried
        at its next turn; it never counts as a failed batch (which would re-drain the
        pending entries one by one). `strict` (the end of a burst, which has no next turn)
        lets the failure through, so the burst exits non-zero.
        """
        now_s = time.monotonic()
        if now_s >= self._next_heartbeat_s:
            self._next_heartbeat_s = now_s + self.settings.heartbeat_s
            run_guarded(UpkeepTask.HEARTBEAT, self._heartbeat, strict=strict)
        if now_s >= self._next_claim_s:
            self._next_claim_s = now_s + self.settings.claim_idle_ms / 2_000
            run_guarded(UpkeepTask.CLAIM, self._claim_orphans, strict=strict)
        if now_s >= self._next_trim_s and self.stream_readers:
            self._next_trim_s = now_s + self.settings.retention_check_minutes * 60
            run_guarded(UpkeepTask.TRIM, self._trim, strict=strict)
        if isinstance(self.handler, Periodic):
            run_guarded(UpkeepTask.PERIODIC, self.handler.periodic, strict=strict)

    def _trim(self) -> None:
        for stream in self.handler.streams:
            trim_stream(self.client, self.settings, stream, list(self.stream_readers[stream]))

    def _heartbeat(self) -> None:
        beat = {"pid": os.getpid(), "host": socket.gethostname(), "processed": self.stats.processed}
        self.client.set(
            self.keys.heartbeat(self.group, self.consumer),
            json.dumps(beat),
            ex=self.settings.heartbeat_s * HEARTBEAT_TTL_FACTOR,
        )

    def _clear_heartbeat(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self.client.delete(self.keys.heartbeat(self.group, self.consumer))

    def _claim_orphans(self) -> None:
        """Take over entries another consumer left pending longer than the claim idle
        time (it died) and process them, delivery counts and poison rule included."""
        for stream_key in self._stream_keys:
            start = "0-0"
            while not self.stop.is_set():
                reply: Any = self.client.xautoclaim(
                    stream_key,
                    self.group,
                    self.consumer,
                    self.settings.claim_idle_ms,
                    start_id=start,
                    count=self.settings.batch_size,
                )
                start, entries = as_text(reply[0]), list(reply[1])
                if entries:
                    log.info(
                        "claimed entries of a dead consumer",
                        stream=stream_key,
                        entries=len(entries),
                    )
                    counts = self._delivery_counts(stream_key, entries)
                    self.batches.process_isolating(stream_key, entries, counts)
                if start == "0-0":
                    break

    def _backoff(self, failures: int) -> None:
        self.stop.wait(self._retry_backoff.compute(min(failures, 10)))

    def _ensure_groups(self) -> None:
        for stream_key in self._stream_keys:
            try:
                self.client.xgroup_create(stream_key, self.group, id="0", mkstream=True)
            except redis.ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise

    def _last_ids(self) -> dict[str, tuple[int, int]]:
        """Where each stream ends now; a burst stops there even if producers go on."""
        last: dict[str, tuple[int, int]] = {}
        for stream_key in self._stream_keys:
            info = self.client.xinfo_stream(stream_key)
            last[stream_key] = parse_stream_id(info["last-generated-id"])
        return last

    def _drain_pending(self) -> None:
        """Re-process entries delivered to this consumer but never acknowledged."""
        for stream_key in self._stream_keys:
            after = "0"
            while not self.stop.is_set():
                entries = self._read({stream_key: after}).get(stream_key)
                if not entries:
                    break
                counts = self._delivery_counts(stream_key, entries)
                self.batches.process_isolating(stream_key, entries, counts)
                after = as_text(entries[-1][0])

    def _drain_new(self, until: dict[str, tuple[int, int]]) -> None:
        """Each stream in priority order, up to where it ended when the burst began."""
        for stream_key, last in until.items():
            while last > (0, 0) and not self.stop.is_set():
                entries = self._read({stream_key: ">"}).get(stream_key)
                if not entries:
                    break
                self.batches.process_new(stream_key, entries)
                if parse_stream_id(entries[-1][0]) >= last:
                    break
        self.batches.settle()

    def _read_new_once(self, *, block_ms: int) -> None:
        """New entries of the first stream that has any; wait on all when none has (once
        the commit in flight, if any, is settled)."""
        streams = list(self._stream_keys)
        for stream_key in streams if self._overlap is not None else streams[:-1]:
            entries = self._read({stream_key: ">"}).get(stream_key)
            if entries:
                self.batches.process_new(stream_key, entries)
                return
        self.batches.settle()
        batches = self._read(dict.fromkeys(self._stream_keys, ">"), block_ms=block_ms)
        for stream_key in self._stream_keys:
            if stream_key in batches:
                self.batches.process_new(stream_key, batches[stream_key])

    def _read(
        self, positions: dict[str, str], *, block_ms: int | None = None
    ) -> dict[str, StreamEntries]:
        """XREADGROUP from `positions` ('>' for new, an id for own pending after it)."""
        reply: Any = self.client.xreadgroup(
            self.group,
            self.consumer,
            positions,  # type: ignore[arg-type]
            count=self.settings.batch_size,
            block=block_ms,
        )
        if self._overlap is not None:
            self._overlap.start()  # read first: a read sent after the script waits for it
        return {as_text(stream): list(entries) for stream, entries in reply or [] if entries}

    def _delivery_counts(self, stream_key: str, entries: StreamEntries) -> dict[str, int]:
        pending: Any = self.client.xpending_range(
            stream_key,
            self.group,
            min=as_text(entries[0][0]),
            max=as_text(entries[-1][0]),
            count=len(entries),
            consumername=self.consumer,
        )
        return {as_text(item["message_id"]): int(item["times_delivered"]) for item in pending}
