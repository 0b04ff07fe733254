"""A batch of events on its way out: each event's stream is chosen before anything is
sent, its JSON is made just before its XADD is packed.

Packed XADDs go out in chunks of about 64 KiB (`producer_sdk.resp`), so Redis stores the
first chunk while the rest are serialised: serialising the whole batch first left Redis
idle for that long, and `publish_many` ran at about two thirds of the rate it has now.

Only an event no validation saw (built by `model_construct`) can fail to serialise. It
stops the batch where it stands: the XADDs packed before it are sent and their replies
read, it and the events after it are not sent (`failure` says why).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from producer_sdk.encoding import event_json
from producer_sdk.events import AnyEvent
from producer_sdk.failures import Entry
from producer_sdk.vocabulary import EventType


class Outgoing:
    """The entries of one batch, in order, with their JSON made as they are packed.

    :param streams: each event's stream key.
    :param events: the events, whose JSON is not made yet; None when `payloads` holds every
        entry's JSON already (a spooled batch).
    :param payloads: the JSON made so far, in order.
    """

    __slots__ = ("_events", "failure", "payloads", "streams")

    def __init__(
        self,
        streams: list[str],
        events: Sequence[AnyEvent] | None,
        payloads: list[bytes] | None = None,
    ) -> None:
        self.streams = streams
        self._events = events
        self.payloads: list[bytes] = [] if payloads is None else payloads
        self.failure: Exception | None = None  # why the event at `made` has no JSON

    @classmethod
    def of_entries(cls, entries: Sequence[Entry]) -> Outgoing:
        """A batch whose JSON is made already (entries from the spool)."""
        return cls([stream for stream, _ in entries], None, [payload for _, payload in entries])

    def __len__(self) -> int:
        return len(self.streams)

    @property
    def made(self) -> int:
        """How many entries have their JSON: those packed so far, or all of them."""
        return len(self.payloads)

    def streamed(self) -> Iterator[Entry]:
        """Each entry in order, its JSON made as it is asked for; stops before the first
        event that cannot be serialised (its error kept in `failure`)."""
        made = len(self.payloads)
        yield from zip(self.streams[:made], self.payloads, strict=True)
        events = self._events
        if events is None or self.failure is not None:
            return
        append = self.payloads.append
        for stream, event in zip(self.streams[made:], events[made:], strict=True):
            try:
                payload = event_json(event)
            except Exception as e:  # noqa: BLE001  # the caller gets it as the cause
                self.failure = e
                return
            append(payload)
            yield stream, payload

    def make_all(self) -> bool:
        """Make every entry's JSON (for a path that needs all of it before sending);
        False when an event cannot be serialised (`failure` says why)."""
        for _ in self.streamed():
            pass
        return self.made == len(self)

    def entries(self, start: int = 0) -> list[Entry]:
        """The entries from `start` on whose JSON is made."""
        return list(zip(self.streams[start:], self.payloads[start:], strict=False))

    def describe(self) -> str:
        """The batch in a few words, for an error message."""
        if len(self) != 1:
            return f"{len(self)} events"
        if self._events is not None:
            kind = EventType(self._events[0].type).value  # text, from model_construct
        else:
            kind = json.loads(self.payloads[0])["type"]
        return f"{kind} to {self.streams[0]}"
