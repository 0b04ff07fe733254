"""mlmon producer SDK: publish the trading pipeline's events to Redis Streams.

Depends on redis and pydantic only; nothing here imports the worker. The names below are
imported on first use, so a program that needs only the stream names or the verdict enum
does not build the event models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from producer_sdk.events import (
        SCHEMA_VERSION,
        AnalysisCompleted,
        AnyEvent,
        BacktestCompleted,
        Prediction,
        TradeOutcome,
        event_json_schemas,
        new_event_id,
        parse_event,
    )
    from producer_sdk.failures import PublishError
    from producer_sdk.publisher import Publisher
    from producer_sdk.streams import (
        DEFAULT_PREFIX,
        DEFAULT_STREAM_MAXLEN,
        STREAM_OF_TYPE,
        StreamName,
        stream_key,
    )
    from producer_sdk.vocabulary import EventType, Outcome, Verdict, VerdictSource

_HOME = {
    "SCHEMA_VERSION": "events",
    "AnalysisCompleted": "events",
    "AnyEvent": "events",
    "BacktestCompleted": "events",
    "Prediction": "events",
    "TradeOutcome": "events",
    "event_json_schemas": "events",
    "new_event_id": "events",
    "parse_event": "events",
    "DEFAULT_STREAM_MAXLEN": "streams",
    "Publisher": "publisher",
    "PublishError": "failures",
    "DEFAULT_PREFIX": "streams",
    "STREAM_OF_TYPE": "streams",
    "StreamName": "streams",
    "stream_key": "streams",
    "EventType": "vocabulary",
    "Outcome": "vocabulary",
    "Verdict": "vocabulary",
    "VerdictSource": "vocabulary",
}
__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_STREAM_MAXLEN",
    "SCHEMA_VERSION",
    "STREAM_OF_TYPE",
    "AnalysisCompleted",
    "AnyEvent",
    "BacktestCompleted",
    "EventType",
    "Outcome",
    "Prediction",
    "PublishError",
    "Publisher",
    "StreamName",
    "TradeOutcome",
    "Verdict",
    "VerdictSource",
    "event_json_schemas",
    "new_event_id",
    "parse_event",
    "stream_key",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'producer_sdk' has no attribute {name!r}")
    value = getattr(import_module(f"producer_sdk.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
