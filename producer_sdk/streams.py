"""Stream names of the wire contract: which stream each event type travels on.

The worker's key module builds every other key; stream names live here because the SDK
must not import the worker.
"""

from __future__ import annotations

from enum import Enum

from producer_sdk.vocabulary import EventType

DEFAULT_PREFIX = "mlmon"
DEFAULT_STREAM_MAXLEN = 1_000_000  # entries a stream keeps at most (a safety cap)


class StreamName(str, Enum):
    """The suffix after `<prefix>:stream:`."""

    PREDICTIONS = "predictions"
    ANALYSIS = "analysis"
    BACKTESTS = "backtests"
    OUTCOMES = "outcomes"
    ALERTS = "alerts"
    MODELS = "models"
    DEAD = "dead"


STREAM_OF_TYPE: dict[EventType, StreamName] = {
    EventType.PREDICTION: StreamName.PREDICTIONS,
    EventType.ANALYSIS_COMPLETED: StreamName.ANALYSIS,
    EventType.BACKTEST_COMPLETED: StreamName.BACKTESTS,
    EventType.TRADE_OUTCOME: StreamName.OUTCOMES,
}


def stream_key(prefix: str, name: StreamName) -> str:
    """`<prefix>:stream:<name>`, e.g. `mlmon:stream:predictions`."""
    return f"{prefix}:stream:{name.value}"


def stream_key_for(prefix: str, event_type: EventType) -> str:
    return stream_key(prefix, STREAM_OF_TYPE[event_type])
