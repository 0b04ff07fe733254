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

import types
import typing
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

    def all_short(self, fields: dict[str, Any]) -> bool:
        """Whether every float in `fields` is written without an exponent by both."""
        for name in self.scalars:
            value = fields[name]
            if type(value) is float and not -EXPONENT_FROM < value < EXPONENT_FROM:
                return False
        for name in self.float_maps:
            mapping = fields[name]
            if (
                mapping
                and not -EXPONENT_FROM
                < min(mapping.values())
                <= max(mapping.values())
                < EXPONENT_FROM
            ):
                return False
        for name in self.mixed_maps:
            mapping = fields[name]
            if mapping and not all(
                -EXPONENT_FROM < value < EXPONENT_FROM
                for value in mapping.values()
                if type(value) is float
            ):
                return False
        return True


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
    floats = _FLOATS.get(type(event))
    fields = event.__dict__
    if floats is None or floats.unknown or not _whole_minutes(event.ts):
        return _pydantic_json(event)
    if not floats.all_short(fields):
        return _pydantic_json(event)
    try:
        return _encode(fields)
    except (TypeError, ValueError, OverflowError):  # not a type the models allow: pydantic says
        return _pydantic_json(event)


def _whole_minutes(ts: datetime) -> bool:
    if ts.tzinfo is UTC:  # the default, `utc_now()`
        return True
    offset = ts.utcoffset()
    if offset is None:
        return False
    return not offset.seconds % SECONDS_PER_MINUTE and not offset.microseconds


def _pydantic_json(event: AnyEvent) -> bytes:
    return event.model_dump_json().encode()
