"""mlmon producer SDK: publish the trading pipeline's events to Redis Streams.

Depends on redis and pydantic only; nothing here imports the worker.
"""

from producer_sdk.events import (
    SCHEMA_VERSION,
    AnalysisCompleted,
    AnyEvent,
    BacktestCompleted,
    EventType,
    Outcome,
    Prediction,
    TradeOutcome,
    Verdict,
    VerdictSource,
    event_json_schemas,
    new_event_id,
    parse_event,
)
from producer_sdk.publisher import DEFAULT_STREAM_MAXLEN, Publisher, PublishError
from producer_sdk.streams import DEFAULT_PREFIX, STREAM_OF_TYPE, StreamName, stream_key

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
