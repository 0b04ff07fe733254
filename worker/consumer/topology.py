"""Which consumer group reads which streams: a static table, so health checks, retention
and the process set know the topology without importing any handler (and so rq or sklearn).
"""

from __future__ import annotations

from enum import StrEnum

from producer_sdk.streams import StreamName


class GroupName(StrEnum):
    LOGS = "logs"
    METRICS = "metrics"
    FEEDBACK = "feedback"
    RETRAIN = "retrain"
    ALERTS = "alerts"


# Streams in priority order: a later stream is read only when the earlier have nothing new.
GROUP_STREAMS: dict[GroupName, tuple[StreamName, ...]] = {
    GroupName.LOGS: (StreamName.PREDICTIONS,),
    GroupName.METRICS: (StreamName.PREDICTIONS,),
    GroupName.FEEDBACK: (StreamName.PREDICTIONS, StreamName.OUTCOMES),
    GroupName.RETRAIN: (StreamName.BACKTESTS, StreamName.ANALYSIS),
    GroupName.ALERTS: (StreamName.MODELS,),
}

STREAM_READERS: dict[StreamName, tuple[GroupName, ...]] = {
    stream: tuple(group for group, streams in GROUP_STREAMS.items() if stream in streams)
    for stream in dict.fromkeys(s for streams in GROUP_STREAMS.values() for s in streams)
}


def parse_group_names(text: str) -> list[GroupName]:
    """'logs, metrics' -> [GroupName.LOGS, GroupName.METRICS]; ValueError names the unknown."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {group.value for group in GroupName}
    unknown = sorted(set(names) - known)
    if unknown or not names:
        raise ValueError(
            f"unknown group(s) {', '.join(unknown) or '(none)'}; known: {', '.join(known_names())}"
        )
    return [GroupName(name) for name in names]


def known_names() -> list[str]:
    return [group.value for group in GroupName]
