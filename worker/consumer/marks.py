"""Idempotency marks: which events a consumer group has already applied.

A key per event cost about 120 B of Redis for each event and group. Marks are members of
small sets instead: one set per second of event time and shard, holding a 63-bit hash of
each event id. A re-published event carries the same id and `ts`, so its mark is always
looked for in the set it was added to; two events are confused only if they share the
second, the shard and 63 bits of hash. Sets of up to 512 integers are stored by Redis as
sorted arrays (intsets), 8 bytes a member, and each set expires `MLMON_DEDUP_TTL_HOURS`
after its last addition, so every mark lives at least that long after it was set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from worker.keys import Keys

SHARDS = 4  # 1,000 events a second stay about 250 to a set, within Redis's intset limit


def mark_member(event_id: str) -> int:
    """The 63-bit hash stored for `event_id` (a non-negative int64, as intsets hold)."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class Marks:
    """Where the marks of one group live.

    :param keys: the key builder.
    :param group: the consumer group whose events are marked.
    """

    def __init__(self, keys: Keys, group: str) -> None:
        self.keys = keys
        self.group = group

    def of(self, event_id: str, ts: datetime) -> tuple[str, str]:
        """The set and the member (as text, which Lua passes on exactly) of one event."""
        member = mark_member(event_id)
        key = self.keys.dedup_bucket(self.group, int(ts.timestamp()), member % SHARDS)
        return key, str(member)

    def queue_check(self, pipe: Any, marks: Sequence[tuple[str, str]]) -> list[str]:
        """Queue one SMISMEMBER per set on `pipe`; `read_check` reads the replies."""
        by_key: dict[str, list[str]] = {}
        for key, member in marks:
            by_key.setdefault(key, []).append(member)
        for key, members in by_key.items():
            pipe.smismember(key, members)
        return list(by_key)

    @staticmethod
    def read_check(
        marks: Sequence[tuple[str, str]], order: list[str], replies: Sequence[Any]
    ) -> list[bool]:
        """Whether each of `marks` is set, from the replies of `queue_check`."""
        found: dict[tuple[str, str], bool] = {}
        by_key: dict[str, list[str]] = {}
        for key, member in marks:
            by_key.setdefault(key, []).append(member)
        for key, reply in zip(order, replies, strict=True):
            for member, present in zip(by_key[key], reply, strict=True):
                found[(key, member)] = bool(present)
        return [found[mark] for mark in marks]

    def are_set(self, client: Any, marks: Sequence[tuple[str, str]]) -> list[bool]:
        """Whether each of `marks` is set, in one round trip."""
        if not marks:
            return []
        pipe = client.pipeline(transaction=False)
        order = self.queue_check(pipe, marks)
        return self.read_check(marks, order, pipe.execute())
