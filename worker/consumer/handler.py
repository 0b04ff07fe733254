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
    fields_of = {entry_id: (fields, deliveries) for entry_id, fields, deliveries in usable}
    if isinstance(handler, RawHandler):
        refused = handler.handle_raw([(entry_id, fields) for entry_id, fields, _ in usable])
        return [(i, fields_of[i][0], reason, fields_of[i][1]) for i, reason in refused]
    dead: list[DeadEntry] = []
    good: list[Delivery] = []
    for entry_id, fields, deliveries in usable:
        try:
            good.append(
                Delivery(
                    entry_id,
                    decode_entry(stream, fields, max_clock_skew_s=max_clock_skew_s),
                    deliveries,
                )
            )
        except DecodeError as e:
            dead.append((entry_id, fields, e.reason, deliveries))
    if good:
        for delivery, reason in handler.handle(stream, good):
            fields, deliveries = fields_of[delivery.entry_id]
            dead.append((delivery.entry_id, fields, reason, deliveries))
    return dead
