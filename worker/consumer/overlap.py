"""A batch's durable step run by Redis while the consumer prepares the next batch.

A consumer of a `Deferring` handler spent a third of its time waiting for the Lua step of
each batch, during which Redis worked and Python did not; then Redis waited while Python
decoded and prepared the next batch. Here the step of batch N is sent (`Commit.start`) on
a connection of its own once batch N+1 has been read (sent before it, the read would queue
behind the script), and its reply is read (`Commit.finish`) once batch N+1 is prepared. No
thread: the consumer only sends and later reads, so nothing waits for the interpreter lock.

At most one batch is in flight: the consumer settles it (`take`) before it stages the
next, and before anything that must see the effects of every batch it read (the end of a
burst, a wait for new entries); after a failure it drops it (`drop`), unapplied or applied,
and recovery re-reads what is pending.

Nothing of the guarantees moves: each commit is the same atomic step (effect, marks and
acknowledgement) it was, commits run one at a time in batch order, and an entry whose
commit did not happen is still pending. Only the moment a failure is seen moves, to the
settling after the next batch's preparation; the failed batch is then retried entry by
entry as before (`BatchRunner.after_batch_failed`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from worker.consumer.codec import Delivery
from worker.consumer.handler import Commit, Rejected, StreamEntries


@dataclass
class InFlight:
    """A prepared batch: its entries (for a retry one at a time), deliveries (for the
    refusals' dead letters) and commit; once settled, the commit's refusals or error."""

    stream_key: str
    entries: StreamEntries
    deliveries: list[Delivery]
    commit: Commit
    started: bool = False
    refused: list[Rejected] | None = None
    error: Exception | None = None


class Overlap:
    """The one batch a consumer has in flight."""

    def __init__(self) -> None:
        self._in_flight: InFlight | None = None

    def stage(
        self, stream_key: str, entries: StreamEntries, deliveries: list[Delivery], commit: Commit
    ) -> None:
        """Hold a prepared batch until `start`; the previous one must have been taken."""
        assert self._in_flight is None, "take the previous batch first"
        self._in_flight = InFlight(stream_key, entries, deliveries, commit)

    def start(self) -> None:
        """Send the held batch's commit, if not sent yet (an error is kept for `take`)."""
        in_flight = self._in_flight
        if in_flight is None or in_flight.started:
            return
        in_flight.started = True
        try:
            in_flight.commit.start()
        except Exception as e:  # noqa: BLE001  (handed to `take`, which the caller settles)
            in_flight.error = e

    def take(self) -> InFlight | None:
        """The batch in flight with its commit finished (None when there is none)."""
        self.start()
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None and in_flight.error is None:
            try:
                in_flight.refused = in_flight.commit.finish()
            except Exception as e:  # noqa: BLE001  (handed to the caller, which settles it)
                in_flight.error = e
        return in_flight

    def drop(self) -> None:
        """Forget the batch in flight: a commit already sent is waited for, whatever its
        outcome; one not sent is never sent (its entries stay pending)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None and in_flight.started and in_flight.error is None:
            with contextlib.suppress(Exception):  # its entries stay pending if it failed
                in_flight.commit.finish()
