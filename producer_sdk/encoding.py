"""An event's JSON for the wire: the bytes pydantic's `model_dump_json` writes, made by
msgspec from the model's field values at about a sixth of the cost.

msgspec and pydantic agree byte for byte on the types the events hold (strings and their
escapes, ints of any size, booleans, null, dates, aware datetimes, enums by value), with
two exceptions, which are sent to pydantic instead: a float of magnitude 1e16 or more
(msgspec writes `1e16`, pydantic `1e+16`) and a UTC offset with seconds (msgspec rounds
it to the minute, pydantic truncates). Anything msgspec cannot encode also goes to
pydantic, so the error a caller sees is pydantic's, as before.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Union

import msgspec
from pydantic import BaseModel

from producer_sdk.events import EVENT_MODELS, AnyEvent

EXPONENT_FROM = 1e16  # from here on both write floats with an exponent, spelt differently
SECONDS_PER_MINUTE = 60

_encode = msgspec.json.Encoder().encode


class _FloatFields:
    """Where a model keeps floats: fields that are one, and fields mapping names to them.

    :param scalars: fields of type float (or float | None).
    :param float_maps: fields of type dict[str, float] (or None).
    :param mixed_maps: other fields of type dict[str, ...] whose values may be floats.
    :param unknown: a float somewhere this class cannot check (always use pydantic).
    """

    __slots__ = ("float_maps", "mixed_maps", "scalars", "unknown")

    def __init__(self, model: type[BaseModel]) -> None:
        scalars: list[str] = []
        float_maps: list[str] = []
        mixed_maps: list[str] = []
        unknown = False
        for name, info in model.model_fields.items():
            members = _members(info.annotation)
            holders = [member for member in members if _holds_float(member)]
            if float in members:
                scalars.append(name)
            elif len(holders) == 1 and typing.get_origin(holders[0]) is dict:
                values = _members(typing.get_args(holders[0])[1])
                (float_maps if values == [float] else mixed_maps).append(name)
            elif holders:
                unknown = True
        self.scalars = tuple(scalars)
        self.float_maps = tuple(float_maps)
        self.mixed_maps = tuple(mixed_maps)
        self.unknown = unknown

    def fits(self, fields: dict[str, Any]) -> bool:
        """Whether msgspec writes `fields` as pydantic does: a whole-minute UTC offset, and
        every float written without an exponent by both."""
        ts = fields["ts"]
        if self.unknown or (ts.tzinfo is not UTC and not _whole_minutes(ts)):
            return False
        try:
            for name in self.scalars:
                if not -EXPONENT_FROM < (fields[name] or 0.0) < EXPONENT_FROM:
                    return False
            for name in self.float_maps:
                # a Euclidean norm under the bound puts each value under it (the odd event
                # it refuses still gets its exact JSON, from pydantic); NaN and inf fail
                values = fields[name]
                if values and not math.hypot(*values.values()) < EXPONENT_FROM:
                    return False
            for name in self.mixed_maps:
                values = fields[name]
                if values and not _short_values(values.values()):
                    return False
        except TypeError:  # not a number where the model has one (model_construct)
            return False
        return True


def _short_values(values: Iterable[Any]) -> bool:
    return all(-EXPONENT_FROM < v < EXPONENT_FROM for v in values if type(v) is float)


def _members(annotation: Any) -> list[Any]:
    """The types of a union (or the one type), without Annotated's metadata or None."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [] if annotation is type(None) else [annotation]


def _holds_float(annotation: Any) -> bool:
    return annotation is float or any(_holds_float(a) for a in typing.get_args(annotation))


_FLOATS: dict[type[BaseModel], _FloatFields] = {m: _FloatFields(m) for m in EVENT_MODELS}


def event_json(event: AnyEvent) -> bytes:
    """The event as UTF-8 JSON, exactly as `event.model_dump_json()` writes it."""
    fields = event.__dict__
    floats = _FLOATS.get(event.__class__)
    if floats is not None and floats.fits(fields):
        try:
            return _encode(fields)
        except (TypeError, ValueError, OverflowError):  # not a type the models allow
            pass
    return event.model_dump_json().encode()  # which raises pydantic's error, if any


def _whole_minutes(ts: datetime) -> bool:
    if ts.tzinfo is UTC:  # the default, `utc_now()`
        return True
    offset = ts.utcoffset()
    if offset is None:
        return False
    return not offset.seconds % SECONDS_PER_MINUTE and not offset.microseconds
