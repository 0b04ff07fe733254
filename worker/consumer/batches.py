"""Processing the batches a consumer reads: decoding, the handler, dead letters, failures.

A batch that fails, and not for an environment fault (Redis, the disk), is retried entry
by entry: an entry that fails on its own stays pending with its failure counted, and is
dead-lettered as poison after `ML_MAX_DELIVERIES` such failures; its batch-mates go on.
A `Deferring` handler's batches of new entries overlap (`worker.consumer.overlap`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis
import structlog

from producer_sdk.streams import StreamName
from worker.consumer.deadletters import DeadEntry, send_to_dead
from worker.consumer.failures import EntryFailures, is_environment_fault
from worker.consumer.handler import (
    Deferring,
    Handler,
    StreamEntries,
    decode_deliveries,
    run_handler,
)
from worker.consumer.overlap import Overlap
from worker.keys import Keys
from worker.log import get_logger
from worker.redis_values import as_text
from worker.scripts import load_script
from worker.settings import Settings

log = get_logger(__name__)


@dataclass
class ConsumerStats:
    processed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    started_at: float = field(default_factory=time.monotonic)


class BatchRunner:
    """Processes the batches of one consumer of `handler`'s group.

    :param stream_keys: stream key -> stream, of the streams the handler reads.
    """

    def __init__(
        self,
        handler: Handler,
        client: redis.Redis,
        *,
        settings: Settings,
        stream_keys: dict[str, StreamName],
    ) -> None:
        self.handler = handler
        self.client = client
        self.settings = settings
        self.group = handler.group
        self.stream_keys = stream_keys
        self.stats = ConsumerStats()
        self.failures = EntryFailures(client, Keys.of(settings), handler.group)
        self.failed_alone: list[str] = []  # this round's entries that failed on their own
        self.overlap = Overlap() if isinstance(handler, Deferring) else None
        self._dead_letter = load_script(client, "dead_letter")

    def process_new(self, stream_key: str, entries: StreamEntries) -> None:
        """Process a batch of new entries; for a `Deferring` handler, prepare it, settle
        the batch in flight, and leave this one's commit in flight (`worker.consumer.overlap`)."""
        if self.overlap is None or not isinstance(self.handler, Deferring):
            self.process_isolating(stream_key, entries, None)
            return
        stream = self.stream_keys[stream_key]
        ids = [as_text(raw_id) for raw_id, _ in entries]
        usable = [(i, fields, 1) for i, (_, fields) in zip(ids, entries, strict=True) if fields]
        good, dead = decode_deliveries(
            stream, usable, max_clock_skew_s=self.settings.max_clock_skew_s
        )
        try:
            commit = self.handler.prepare(stream, good) if good else None
        except Exception as e:
            if is_environment_fault(e):
                raise
            self.settle()
            self.process_isolating(stream_key, entries, None)  # as a batch, then alone
            return
        gone = [i for i, (_, fields) in zip(ids, entries, strict=True) if not fields]
        with structlog.contextvars.bound_contextvars(stream=stream_key):
            if gone:
                self.client.xack(stream_key, self.group, *gone)
            self.send_to_dead(stream, stream_key, dead)
        self.stats.dead_lettered += len(dead)
        self.settle()
        if commit is not None:
            if len(good) == len(entries):  # the usual batch: every entry decoded
                mine = entries
            else:
                taken = {delivery.entry_id for delivery in good}
                mine = [entry for i, entry in zip(ids, entries, strict=True) if i in taken]
            self.overlap.stage(stream_key, mine, good, commit)

    def settle(self) -> None:
        """Take the outcome of the commit in flight: its refusals to the dead letters, or
        when it failed, and not for an environment fault, its entries one at a time."""
        in_flight = self.overlap.take() if self.overlap is not None else None
        if in_flight is None:
            return
        stream_key, entries, error = in_flight.stream_key, in_flight.entries, in_flight.error
        if error is None:
            refused: list[DeadEntry] = []
            if in_flight.refused:  # rare: only then is each entry looked up
                fields = {as_text(raw_id): fields for raw_id, fields in entries}
                refused = [
                    (d.entry_id, fields[d.entry_id] or {}, reason, d.deliveries)
                    for d, reason in in_flight.refused
                ]
            with structlog.contextvars.bound_contextvars(stream=stream_key):
                self.send_to_dead(self.stream_keys[stream_key], stream_key, refused)
            self.stats.processed += len(in_flight.deliveries)
            self.stats.dead_lettered += len(refused)
            self.stats.batches += 1
            return
        self.after_batch_failed(stream_key, entries, None, error)

    def send_to_dead(self, stream: StreamName, stream_key: str, dead: list[DeadEntry]) -> None:
        if dead:
            send_to_dead(
                self.client,
                self._dead_letter,
                settings=self.settings,
                group=self.group,
                stream=stream,
                stream_key=stream_key,
                dead=dead,
            )

    def process_isolating(
        self, stream_key: str, entries: StreamEntries, counts: dict[str, int] | None
    ) -> None:
        """Process a batch; when it fails, and not for an environment fault, each entry alone.

        An entry that fails alone stays pending and has its failure counted; its
        batch-mates go on. An environment fault propagates: the whole batch stays pending.
        """
        try:
            self.process(stream_key, entries, counts)
        except Exception as e:  # noqa: BLE001  # a fault is re-raised in after_batch_failed
            self.after_batch_failed(stream_key, entries, counts, e)

    def after_batch_failed(
        self,
        stream_key: str,
        entries: StreamEntries,
        counts: dict[str, int] | None,
        error: Exception,
    ) -> None:
        """An environment fault propagates (the batch stays pending); an entry alone has its
        failure counted; a larger batch is retried entry by entry."""
        if is_environment_fault(error):
            raise error
        if len(entries) == 1:
            self.failed_on_its_own(stream_key, entries[0][0])
            return
        log.warning(
            "batch failed; retrying its entries one at a time",
            stream=stream_key,
            entries=len(entries),
            error=str(error),
        )
        self.isolate(stream_key, entries, counts)

    def isolate(
        self, stream_key: str, entries: StreamEntries, counts: dict[str, int] | None
    ) -> None:
        """Each entry alone; one that fails stays pending, with its failure counted."""
        for entry in entries:
            try:
                self.process(stream_key, [entry], counts)
            except Exception as e:
                if is_environment_fault(e):
                    raise
                self.failed_on_its_own(stream_key, entry[0])

    def failed_on_its_own(self, stream_key: str, raw_id: bytes | str) -> None:
        entry_id = as_text(raw_id)
        failures = self.failures.record(self.stream_keys[stream_key], entry_id)
        log.exception(
            "entry failed on its own; it stays pending",
            stream=stream_key,
            entry_id=entry_id,
            failures=failures,
            max_deliveries=self.settings.max_deliveries,
        )
        self.failed_alone.append(entry_id)

    def process(
        self, stream_key: str, entries: StreamEntries, counts: dict[str, int] | None
    ) -> None:
        """Hand a batch to the handler; dead-letter what is poison, undecodable or refused.

        Entries come back pending (`counts` given) after a crash or a failure; only those
        can have failed on their own before.
        """
        stream = self.stream_keys[stream_key]
        ids = [as_text(raw_id) for raw_id, _ in entries]
        failed_before = self.failures.counts(stream, ids) if counts is not None else {}
        usable: list[tuple[str, dict[bytes, bytes], int]] = []
        dead: list[DeadEntry] = []
        gone: list[str] = []
        for entry_id, (_, fields) in zip(ids, entries, strict=True):
            deliveries = counts.get(entry_id, 1) if counts is not None else 1
            failures = failed_before.get(entry_id, 0)
            if not fields:
                gone.append(entry_id)  # trimmed from the stream while pending
            elif failures >= self.settings.max_deliveries:
                reason = f"poison: failed {failures} times on its own"
                dead.append((entry_id, fields, reason, deliveries))
            else:
                usable.append((entry_id, fields, deliveries))
        with structlog.contextvars.bound_contextvars(stream=stream_key):
            if gone:
                self.client.xack(stream_key, self.group, *gone)
            if usable:
                dead += run_handler(
                    self.handler,
                    stream,
                    usable,
                    max_clock_skew_s=self.settings.max_clock_skew_s,
                )
            self.send_to_dead(stream, stream_key, dead)
            self.failures.forget(stream, list(failed_before))
        self.stats.processed += len(usable)
        self.stats.dead_lettered += len(dead)
        self.stats.batches += 1
