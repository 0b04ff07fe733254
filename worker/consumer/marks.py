"""Idempotency marks: which events a consumer group has already applied.

A key per event cost about 120 B of Redis for each event and group. Marks are members of
small sets instead, holding a 63-bit hash of each event id: one set per second of event
time, and when a second has more than `MAIN_CAP` events, the rest in one of `OVERFLOWS`
sets of that second chosen by the hash. A re-published event carries the same id and
`ts`, so its mark is looked for in the sets of its second; two events are confused only
if they share the second and 63 bits of hash. Sets of up to 512 integers are stored by
Redis as sorted arrays (intsets), 8 bytes a member, and every set of a second expires
`MLMON_DEDUP_TTL_HOURS` after the last addition to any of them (the first set is renewed
with the others), so every mark lives at least that long after it was set.

The Lua step (`lua/apply_batch.lua`) checks and adds the marks of a batch; the journal and
the metrics group check them beforehand with `are_set` / `queue_check`, which look in the
overflow sets only when the first set is full (a second round trip), as the Lua step does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from worker.keys import Keys

MAIN_CAP = 512  # Redis's default set-max-intset-entries: a fuller set is stored as a hash table
OVERFLOWS = 16  # with MAIN_CAP, about 8,000 events a second stay in intsets


class Mark(NamedTuple):
    """Where one event's mark is: the first set of its second, its overflow set, and the
    member (as text, which Lua passes on to Redis exactly)."""

    main: str
    overflow: str
    member: str


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
        self._sets: dict[int, list[str]] = {}

    def of(self, event_id: str, ts: datetime) -> Mark:
        member = mark_member(event_id)
        second = int(ts.timestamp())
        sets = self._sets.get(second)
        if sets is None:
            sets = self._sets_of(second)
        return _new_mark(Mark, (sets[0], sets[1 + member % OVERFLOWS], str(member)))

    def _sets_of(self, second: int) -> list[str]:
        """The first set of `second`, then its overflow sets (remembered: formatting keys
        per event is slow)."""
        if len(self._sets) > 2_000:
            self._sets.clear()
        sets = [self.keys.dedup_bucket(self.group, second, None)]
        sets += [self.keys.dedup_bucket(self.group, second, n) for n in range(OVERFLOWS)]
        self._sets[second] = sets
        return sets

    @staticmethod
    def queue_check(pipe: Any, marks: Sequence[Mark]) -> int:
        """Queue the checks of the first sets of `marks` on `pipe`; returns how many
        replies `read_check` takes."""
        firsts = _grouped(marks, main=True)
        for key, members in firsts.items():
            pipe.scard(key)
            pipe.smismember(key, members)
        return 2 * len(firsts)

    @staticmethod
    def read_check(client: Any, marks: Sequence[Mark], replies: Sequence[Any]) -> list[bool]:
        """Whether each of `marks` is set, from the replies of `queue_check`; a second
        round trip reads the overflow sets of full first sets, when there are any."""
        found: set[tuple[str, str]] = set()
        full: set[str] = set()
        for n, (key, members) in enumerate(_grouped(marks, main=True).items()):
            if int(replies[2 * n]) >= MAIN_CAP:
                full.add(key)
            hits = replies[2 * n + 1]
            found.update((key, m) for m, hit in zip(members, hits, strict=True) if hit)
        unsure = [m for m in marks if m.main in full and (m.main, m.member) not in found]
        if unsure:
            overflows = _grouped(unsure, main=False)
            pipe = client.pipeline(transaction=False)
            for key, members in overflows.items():
                pipe.smismember(key, members)
            for (key, members), hits in zip(overflows.items(), pipe.execute(), strict=True):
                found.update((key, m) for m, hit in zip(members, hits, strict=True) if hit)
        return [
            (mark.main, mark.member) in found or (mark.overflow, mark.member) in found
            for mark in marks
        ]

    def are_set(self, client: Any, marks: Sequence[Mark]) -> list[bool]:
        """Whether each of `marks` is set."""
        if not marks:
            return []
        pipe = client.pipeline(transaction=False)
        self.queue_check(pipe, marks)
        return self.read_check(client, marks, pipe.execute())


_new_mark = tuple.__new__  # a named tuple's own constructor costs twice as much


def _grouped(marks: Sequence[Mark], *, main: bool) -> dict[str, list[str]]:
    by_key: dict[str, list[str]] = {}
    for mark in marks:
        by_key.setdefault(mark.main if main else mark.overflow, []).append(mark.member)
    return by_key
