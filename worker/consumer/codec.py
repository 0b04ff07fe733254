"""Decoding of stream entries: the one place raw bytes become events.

Anything a consumer cannot use raises `DecodeError` with a reason a person can act on;
the runtime sends such entries to the dead-letter stream.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import ValidationError

from producer_sdk.events import AnyEvent, parse_event
from producer_sdk.streams import STREAM_OF_TYPE, StreamName
from worker.consumer.fast_decode import fast_prediction

MAX_ENTRY_BYTES = 64 * 1024
EVENT_FIELD = b"event"


class DecodeError(Exception):
    """A stream entry that can never be processed; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Delivery(NamedTuple):
    """One decoded entry as a consumer group received it (a named tuple: one is made per
    entry and group, and a frozen dataclass took three times as long to build)."""

    entry_id: str
    event: AnyEvent
    deliveries: int


def decode_entry(
    stream: StreamName, fields: dict[bytes, bytes], *, max_clock_skew_s: float
) -> AnyEvent:
    """Validate an entry's `event` field and check it belongs on `stream`; `ts` may be
    at most `max_clock_skew_s` ahead of now (a bucket or a file far in the future is a
    producer's bug, not an event)."""
    raw = fields.get(EVENT_FIELD)
    if raw is not None and len(fields) == 1:  # the usual entry: no sum over its fields
        size_bytes = len(EVENT_FIELD) + len(raw)
    else:
        size_bytes = sum(len(name) + len(value) for name, value in fields.items())
    if size_bytes > MAX_ENTRY_BYTES:
        raise DecodeError(f"entry too large: {size_bytes} bytes > {MAX_ENTRY_BYTES}")
    if raw is None:
        names = ", ".join(sorted(name.decode(errors="replace") for name in fields)) or "none"
        raise DecodeError(f"missing field 'event' (fields: {names})")
    if stream is StreamName.PREDICTIONS:
        fast = fast_prediction(raw, max_clock_skew_s=max_clock_skew_s)
        if fast is not None:
            return fast
    try:
        event = parse_event(raw, max_clock_skew_s=max_clock_skew_s)
    except ValidationError as e:
        raise DecodeError(_validation_reason(e)) from e
    expected = STREAM_OF_TYPE[event.type]
    if expected is not stream:
        raise DecodeError(
            f"event type {event.type.value!r} belongs on stream {expected.value!r}, "
            f"not {stream.value!r}"
        )
    return event


def _validation_reason(error: ValidationError) -> str:
    first = error.errors()[0]
    kind, location = first["type"], first["loc"]
    if kind == "json_invalid":
        return f"not JSON: {first['msg']}"
    if kind == "union_tag_not_found":
        return "missing field 'type'"
    if kind == "union_tag_invalid":
        given = first["input"].get("type") if isinstance(first["input"], dict) else None
        return f"unknown type {given!r}"
    if not location:
        return f"not a JSON object: {first['msg']}"
    # the first location item is the union tag (the event type); the rest is the field
    message = str(first["msg"]).removeprefix("Value error, ")
    count = error.error_count()
    more = f" (and {count - 1} more)" if count > 1 else ""
    field = ".".join(str(part) for part in location[1:])
    if not field:
        return f"invalid {location[0]} event: {message}{more}"
    return f"invalid field {field!r}: {message}{more}"
