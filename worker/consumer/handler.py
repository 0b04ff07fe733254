"""What a consumer group's handler is: the protocols the runtime calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from producer_sdk.streams import StreamName
from worker.consumer.codec import DecodeError, Delivery, decode_entry
from worker.consumer.deadletters import DeadEntry

StreamEntries = list[tuple[bytes, dict[bytes, bytes] | None]]
Rejected = tuple[Delivery, str]
RawRejected = tuple[str, str]  # entry id, reason


class Handler(Protocol):
    """A group's effect.

    `streams` are read in priority order: a later stream is read only when the earlier
    ones have nothing new (the feedback group indexes predictions before it joins
    outcomes to them). `handle` must make the effect durable and XACK the entries in the
    same atomic step, so a crash between the two cannot count anything twice. It returns
    the deliveries it refuses, with a reason; those it must not acknowledge: the runtime
    moves them to the dead-letter stream.
    """

    group: ClassVar[str]
    streams: ClassVar[tuple[StreamName, ...]]

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> list[Rejected]: ...


@runtime_checkable
class RawHandler(Protocol):
    """A handler of a stream mlmon writes itself (no producer events to validate): it gets
    the entries as they are and acknowledges those it used. It returns the ids it refuses,
    with a reason; the runtime dead-letters them, under the same poison rule as `Handler`
    (an entry failing on its own `ML_MAX_DELIVERIES` times is dead-lettered too)."""

    def handle_raw(self, entries: list[tuple[str, dict[bytes, bytes]]]) -> list[RawRejected]: ...


class Commit(Protocol):
    """A prepared batch's durable step, in two halves: `start` sends it to Redis without
    waiting for the reply; `finish` waits for it, completes the step and returns the
    refusals. Together they do what `Handler.handle` does after preparing."""

    def start(self) -> None: ...

    def finish(self) -> list[Rejected]: ...


@runtime_checkable
class Deferring(Protocol):
    """A handler whose durable step can wait: `prepare` does everything but it (no write
    that would have to be undone) and returns it as a `Commit`. The runtime has Redis run a
    batch's commit while it prepares the next (`worker.consumer.overlap`); commits run one at
    a time, in batch order. `handle(stream, deliveries)` stays equivalent to starting and
    finishing `prepare(stream, deliveries)`."""

    def prepare(self, stream: StreamName, deliveries: Sequence[Delivery]) -> Commit: ...


@runtime_checkable
class Periodic(Protocol):
    """A handler with upkeep to do between batches (it keeps its own schedule)."""

    def periodic(self) -> None: ...


def run_handler(
    handler: Handler,
    stream: StreamName,
    usable: list[tuple[str, dict[bytes, bytes], int]],
    *,
    max_clock_skew_s: float,
) -> list[DeadEntry]:
    """Decode entries and run the handler on them; what cannot be used, with the reason."""
    if isinstance(handler, RawHandler):
        dead: list[DeadEntry] = []
        refused = handler.handle_raw([(entry_id, fields) for entry_id, fields, _ in usable])
    else:
        good, dead = decode_deliveries(stream, usable, max_clock_skew_s=max_clock_skew_s)
        rejected = handler.handle(stream, good) if good else []
        refused = [(delivery.entry_id, reason) for delivery, reason in rejected]
    if refused:  # rare: only then is each entry looked up
        fields_of = {entry_id: (fields, deliveries) for entry_id, fields, deliveries in usable}
        dead += [(i, fields_of[i][0], reason, fields_of[i][1]) for i, reason in refused]
    return dead


def decode_deliveries(
    stream: StreamName,
    usable: list[tuple[str, dict[bytes, bytes], int]],
    *,
    max_clock_skew_s: float,
) -> tuple[list[Delivery], list[DeadEntry]]:
    """The entries that decode, and those that do not, with the reason."""
    dead: list[DeadEntry] = []
    good: list[Delivery] = []
    for entry_id, fields, deliveries in usable:
        try:
            event = decode_entry(stream, fields, max_clock_skew_s=max_clock_skew_s)
        except DecodeError as e:
            dead.append((entry_id, fields, e.reason, deliveries))
            continue
        good.append(_new_delivery(Delivery, (entry_id, event, deliveries)))
    return good, dead


_new_delivery = tuple.__new__  # a named tuple's own constructor costs twice as much
