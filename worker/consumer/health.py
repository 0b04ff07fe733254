"""Consumer group health: live consumers (heartbeats), lag and pending per group.

`mlmon health` exits 0 when every expected group has a live consumer and its lag is under
`MLMON_HEALTH_MAX_LAG`, else 1 with one line per problem (a docker-compose healthcheck).
It also says when entries were deleted before a group read them: mlmon's own trimming never
does that (short of the length cap), so it means someone trimmed the stream, e.g. with
`XADD ... MAXLEN`, which Redis ACLs cannot deny a user allowed to XADD.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import redis

from producer_sdk.streams import PARTITION_TAG, StreamName
from worker.consumer.topology import GROUP_STREAMS, GroupName
from worker.keys import Keys
from worker.redis_values import as_text, parse_stream_id
from worker.settings import Settings


@dataclass(frozen=True)
class GroupState:
    """One consumer group on one stream."""

    group: str
    stream: str
    exists: bool
    consumers: int
    pending: int
    lag: int | None
    live_consumers: list[str]
    deleted_unread: bool = False  # entries deleted before this group read them

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_states(
    client: redis.Redis, settings: Settings, groups: list[GroupName] | None = None
) -> list[GroupState]:
    names = groups or list(GROUP_STREAMS)
    states = []
    stream_names = sorted({s for name in names for s in GROUP_STREAMS[name]}, key=str)
    streams = {  # every partition's stream (a shared stream once)
        keys.stream(stream_name): (keys.for_stream(stream_name), stream_name)
        for stream_name in stream_names
        for keys in Keys.partitions_of(settings)
    }
    for stream_key, (keys, stream_name) in streams.items():
        info = {as_text(g["name"]): g for g in _groups_of(client, stream_key)}
        added, length = _added_and_length(client, stream_key) if info else (0, 0)
        for name in names:
            if stream_name not in GROUP_STREAMS[name]:
                continue
            group = info.get(name)
            states.append(
                GroupState(
                    group=name,
                    stream=stream_key,
                    exists=group is not None,
                    consumers=int(group["consumers"]) if group else 0,
                    pending=int(group["pending"]) if group else 0,
                    lag=None if group is None or group.get("lag") is None else int(group["lag"]),
                    live_consumers=_live_consumers(client, keys, stream_key, name) if group else [],
                    deleted_unread=group is not None and added - _entries_read(group) > length,
                )
            )
    return states


def health_problems(states: list[GroupState], *, max_lag: int) -> list[str]:
    """One line per problem; empty when healthy."""
    problems = []
    for group in sorted({s.group for s in states}):
        if not any(s.live_consumers for s in states if s.group == group):
            problems.append(f"group {group}: no live consumer (no heartbeat)")
    for state in states:
        if state.deleted_unread:
            problems.append(
                f"group {state.group} on {state.stream}: entries were deleted before it read "
                "them (trimmed by someone other than mlmon's retention?)"
            )
        if not state.exists:
            problems.append(f"group {state.group} on {state.stream}: not created yet")
        elif state.lag is not None and state.lag > max_lag:
            problems.append(
                f"group {state.group} on {state.stream}: lag {state.lag} > {max_lag} entries"
            )
    return problems


def _live_consumers(client: redis.Redis, keys: Keys, stream_key: str, group: str) -> list[str]:
    """The group's consumers whose heartbeat key exists (no SCAN: it would walk every key)."""
    consumers: list[dict[str, Any]] = client.xinfo_consumers(stream_key, group)
    names = [as_text(c["name"]) for c in consumers]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.exists(keys.heartbeat(group, name))
    return [name for name, alive in zip(names, pipe.execute(), strict=True) if alive]


def _added_and_length(client: redis.Redis, stream_key: str) -> tuple[int, int]:
    """Entries ever added to the stream, and those in it now: an unread entry that went
    missing makes the unread ones (added - read) more than those present."""
    info: dict[str, Any] = client.xinfo_stream(stream_key)
    return int(info.get("entries-added") or 0), int(info["length"])


def _entries_read(group: dict[str, Any]) -> int:
    """Entries the group was delivered (Redis 7); when Redis cannot tell, as many as were
    added, so that nothing is reported."""
    read = group.get("entries-read")
    if read is not None:
        return int(read)
    return 0 if parse_stream_id(group["last-delivered-id"]) == (0, 0) else 1 << 62


def _groups_of(client: redis.Redis, stream_key: str) -> list[dict[str, Any]]:
    try:
        groups: list[dict[str, Any]] = client.xinfo_groups(stream_key)
    except redis.ResponseError:  # no such stream yet
        return []
    return groups


def stray_streams(client: redis.Redis, settings: Settings) -> list[str]:
    """Prediction streams of another partition layout that hold entries: producers set up
    with other `partitions=` than the workers' `MLMON_PARTITIONS` publish where no group
    reads, and status would show nothing while those events wait unread."""
    count, base = settings.partitions, _base(settings)
    others = [Keys.partition(base, count)]  # a producer with more partitions
    if count == 1:
        others.append(Keys.partition(base, 0))  # a partitioned producer
    else:
        others.append(Keys(base, base))  # a producer of the one-partition layout
    problems = []
    for keys in others:
        stream = keys.stream(StreamName.PREDICTIONS)
        try:
            held = int(client.xlen(stream))
        except redis.exceptions.NoPermissionError:
            continue  # an ACL user of this layout (`mlmon acl`) may not look at the other
        if held:
            problems.append(
                f"{stream}: {held} entries no group reads: the producers' partitions= "
                f"differs from MLMON_PARTITIONS={count}; publish with partitions={count} "
                "(or set MLMON_PARTITIONS to theirs), then replay or move those entries"
            )
    return problems


def _base(settings: Settings) -> str:
    """The deployment's prefix, from a partition's settings too."""
    match = PARTITION_TAG.match(settings.prefix)
    return match["base"] if match else settings.prefix
