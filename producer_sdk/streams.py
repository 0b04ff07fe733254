"""Stream names of the wire contract: which stream each event type travels on.

The worker's key module builds every other key; stream names live here because the SDK
must not import the worker.
"""

from __future__ import annotations

import re
import zlib
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
    """`<prefix>:stream:<name>`, e.g. `mlmon:stream:predictions` or, for a partition,
    `{mlmon-p3}:stream:predictions`."""
    return f"{prefix}:stream:{name.value}"


def stream_key_for(prefix: str, event_type: EventType) -> str:
    return stream_key(prefix, STREAM_OF_TYPE[event_type])


# Partitioned streams (Redis Cluster, `MLMON_PARTITIONS=N` > 1): partition i keeps its
# streams and state under the hash tag `{<prefix>-p<i>}`, so each partition is one slot;
# state shared by all partitions (retrain gate, models, alerts, baseline) is under `{<prefix>}`.
PARTITION_TAG = re.compile(r"^\{(?P<base>[A-Za-z0-9_.-]+)-p(?P<index>\d+)\}$")
# streams of events that concern the whole deployment (rare, and read by the groups that
# drive the shared state): on the control tag, never partitioned
CONTROL_STREAMS = frozenset(
    {StreamName.ANALYSIS, StreamName.BACKTESTS, StreamName.MODELS, StreamName.ALERTS}
)


def partition_prefix(prefix: str, index: int) -> str:
    """The key prefix of partition `index`: `{mlmon-p3}` (a Redis Cluster hash tag)."""
    return f"{{{prefix}-p{index}}}"


def control_prefix(prefix: str, partitions: int) -> str:
    """The key prefix of state shared by every partition: the prefix itself with one
    partition (today's layout), its hash tag `{mlmon}` with more."""
    return prefix if partitions == 1 else f"{{{prefix}}}"


def partition_of(routing_key: str, partitions: int) -> int:
    """The partition of an event: CRC-32 of its routing key (the ticker, else the event
    id) modulo the number of partitions. Stable across processes, hosts and Python
    versions (unlike `hash()`), so every producer sends a ticker to the same partition and
    an outcome meets its prediction there."""
    return zlib.crc32(routing_key.encode()) % partitions
