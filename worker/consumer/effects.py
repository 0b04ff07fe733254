"""The effects of one batch, applied with its acknowledgement in one atomic Lua call.

Every group builds a `BatchEffects`: per event, its idempotency mark (`worker.consumer.marks`)
and the counters it adds to which hashes; for the batch, the files it appended and the
entries to acknowledge. `apply()` runs `lua/apply_batch.lua`.

Counters go to Lua already summed over the batch, so Redis runs one HINCRBY per field and
hash of the batch instead of decoding and adding every event's fields. That is only right
when every event of the batch is new, which is the usual case: the script checks all the
marks first and, when any is set already (a redelivered or re-published event), changes
nothing and returns those events. `apply()` then sums the batch again without them and
calls again (each round drops at least one event, so it ends); only the events the last
round sent are counted, marked, fed to the change detector and shown as recent, exactly
once, and all the batch's entries are acknowledged in that same step. A second copy of an
event within the batch (same mark) is dropped here, as the first counts for both.
The batch goes to Lua as MessagePack, which Redis decodes faster than JSON.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import redis
import redis.connection
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from producer_sdk.connection import is_cluster_client
from worker.consumer.marks import MAIN_CAP, Mark, Marks
from worker.keys import Keys
from worker.scripts import load_script
from worker.settings import Settings

MAX_ROUNDS = 1_000  # a batch that keeps meeting new duplicates is a bug, not a race


@dataclass(slots=True)
class _Event:
    """One event's part of a batch, kept until the batch is applied."""

    mark: tuple[int, int, str]  # first set, overflow set (indices into `mark_keys`), member
    hashes: tuple[int, ...]
    ones: Sequence[str]
    amounts: Mapping[str, int] | None
    recent: object | None
    detector_value: float | None
    also: tuple[tuple[int, ...], Sequence[str]] | None


@dataclass
class BatchEffects:
    """Collects what one batch changes; one `EffectsApplier.apply()` commits all of it.

    :param recent_line: makes the line of the recent list from an event's `recent`
        object, for the newest events applied only (building one for every event would
        cost more than the rest of its counting).
    """

    entry_ids: list[str]
    file_lengths: dict[str, int] = field(default_factory=dict)
    detector_delta: float = 0.0
    recent_line: Callable[[Any], str] | None = None
    hashes: list[list[Any]] = field(default_factory=list)
    mark_keys: list[str] = field(default_factory=list)
    _events: list[_Event] = field(default_factory=list)
    _hash_index: dict[str, int] = field(default_factory=dict)
    _mark_index: dict[str, int] = field(default_factory=dict)
    _marked: set[tuple[int, str]] = field(default_factory=set)
    _payload: bytes | None = None

    def hash_ref(self, key: str, ttl_s: int = 0) -> int:
        """The (1-based, as Lua counts) index of a counter hash; ttl_s 0 keeps it forever."""
        index = self._hash_index.get(key)
        if index is None:
            self.hashes.append([key, ttl_s])
            index = self._hash_index[key] = len(self.hashes)
        return index

    def add_event(
        self,
        mark: Mark,
        *,
        hashes: Sequence[int] = (),
        ones: Sequence[str] = (),
        amounts: Mapping[str, int] | None = None,
        recent: object | None = None,
        detector_value: float | None = None,
        also: tuple[Sequence[int], Sequence[str]] | None = None,
    ) -> None:
        """Count the event of `mark` (`Marks.of`) once: +1 to each of `ones`, + each of
        `amounts`, in `hashes`, and +1 to each fields of `also` in its hashes; feed
        `detector_value` to the Page-Hinkley detector once; `recent` (for `recent_line`)
        may put it in the recent list."""
        main = self._mark_ref(mark.main)
        if (main, mark.member) in self._marked:
            return  # a second copy within the batch: the first one counts
        self._marked.add((main, mark.member))
        self._events.append(
            _Event(
                (main, self._mark_ref(mark.overflow), mark.member),
                tuple(hashes),
                ones,
                amounts,
                recent,
                detector_value,
                None if also is None else (tuple(also[0]), also[1]),
            )
        )

    def _mark_ref(self, key: str) -> int:
        index = self._mark_index.get(key)
        if index is None:
            self.mark_keys.append(key)
            index = self._mark_index[key] = len(self.mark_keys)
        return index

    def drop(self, positions: Sequence[int]) -> None:
        """Leave out the events at `positions` (1-based, in the last payload's order)."""
        gone = set(positions)
        self._events = [e for n, e in enumerate(self._events, 1) if n not in gone]
        self._payload = None

    def payload(self, recent_cap: int) -> bytes:
        """The batch for the Lua step (made once, until events are dropped)."""
        if self._payload is None:
            self._payload = self._encoded(recent_cap)
        return self._payload

    def _encoded(self, recent_cap: int) -> bytes:
        marks: list[Any] = []
        detector_values: list[float] = []
        for event in self._events:
            marks += event.mark
            if event.detector_value is not None:
                detector_values.append(event.detector_value)
        batch = {
            "ids": self.entry_ids,
            "hashes": self.hashes,
            "marks": self.mark_keys,
            "mark_cap": MAIN_CAP,
            "events": marks,
            "totals": [[ref, [x for pair in t.items() for x in pair]] for ref, t in self._totals()],
            "recent": self._recent_lines(recent_cap),
            "detector": detector_values,
            "lengths": [item for pair in self.file_lengths.items() for item in pair],
            "ph_delta": self.detector_delta,
        }
        return _ENCODER.encode(batch)

    def _totals(self) -> list[tuple[int, dict[str, int]]]:
        """What the events add to each hash. Events that add the same `ones` (or `amounts`)
        object to the same hashes are counted first (a group passes one shared object per
        kind of event: `PredictionKinds`), so an event costs a dict step, not a step per
        field; then each set of hashes is summed, then each hash. The objects are kept by
        the events meanwhile, so their ids stay unique."""
        ones_kinds: dict[tuple[tuple[int, ...], int], int] = {}
        amount_kinds: dict[tuple[tuple[int, ...], int], int] = {}
        shared: dict[int, Any] = {}
        by_hashes: defaultdict[tuple[int, ...], Counter[str]] = defaultdict(Counter)
        for event in self._events:
            hashes = event.hashes
            if hashes:
                kind = (hashes, id(event.ones))
                ones_kinds[kind] = ones_kinds.get(kind, 0) + 1
                shared[id(event.ones)] = event.ones
                if event.amounts:
                    kind = (hashes, id(event.amounts))
                    amount_kinds[kind] = amount_kinds.get(kind, 0) + 1
                    shared[id(event.amounts)] = event.amounts
            if event.also is not None:
                by_hashes[event.also[0]].update(event.also[1])
        for (hashes, ones_id), times in ones_kinds.items():
            counts = by_hashes[hashes]
            for name in shared[ones_id]:
                counts[name] += times
        for (hashes, amounts_id), times in amount_kinds.items():
            counts = by_hashes[hashes]
            for name, amount in shared[amounts_id].items():
                counts[name] += amount * times
        return _per_hash(by_hashes)

    def _recent_lines(self, cap: int) -> list[str]:
        """The lines of the newest `cap` events that have one, oldest first."""
        if self.recent_line is None or cap <= 0:
            return []
        newest: list[str] = []
        for event in reversed(self._events):
            if event.recent is not None:
                newest.append(self.recent_line(event.recent))
                if len(newest) == cap:
                    break
        newest.reverse()
        return newest


def _per_hash(
    by_hashes: Mapping[tuple[int, ...], Mapping[str, int]],
) -> list[tuple[int, dict[str, int]]]:
    """Counts per set of hashes, added up per hash."""
    totals: dict[int, dict[str, int]] = {}
    for hash_refs, counts in by_hashes.items():
        for ref in hash_refs:
            into = totals.get(ref)
            if into is None:
                totals[ref] = dict(counts)
                continue
            for name, amount in counts.items():
                into[name] = into.get(name, 0) + amount
    return list(totals.items())


_ENCODER = msgspec.msgpack.Encoder()


class EffectsApplier:
    """Runs `apply_batch.lua` for one group."""

    def __init__(self, client: redis.Redis, settings: Settings, *, group: str) -> None:
        self.settings = settings
        self.group = group
        self.keys = Keys.of(settings)
        self.marks = Marks(self.keys, group)
        self.client = client
        self._script: Script = load_script(client, "apply_batch")

    def apply(self, stream_key: str, effects: BatchEffects) -> int:
        """Commit the batch; returns how many of its events were new."""
        for _ in range(MAX_ROUNDS):
            reply: Any = self._script(keys=self._keys(stream_key), args=self._args(effects))
            if not isinstance(reply, list):
                return int(reply)
            effects.drop([int(position) for position in reply])
        raise RuntimeError(f"batch of group {self.group} met new duplicates {MAX_ROUNDS} times")

    def send(self, stream_key: str, effects: BatchEffects) -> SentBatch:
        """Send the batch's Lua step on a connection of its own, without waiting for it:
        `SentBatch.wait` finishes what `apply` does. Where it cannot be sent so (a cluster
        client, a connection that fails), `wait` applies it."""
        pool = getattr(self.client, "connection_pool", None)
        if pool is None or is_cluster_client(self.client):
            return SentBatch(self, stream_key, effects, None)
        connection = pool.get_connection()
        try:
            keys = self._keys(stream_key)
            connection.send_command(
                "EVALSHA", self._script.sha, len(keys), *keys, *self._args(effects)
            )
        except Exception:  # noqa: BLE001  (`wait` applies it the usual way, retries and all)
            connection.disconnect()
            pool.release(connection)
            return SentBatch(self, stream_key, effects, None)
        return SentBatch(self, stream_key, effects, connection)

    def _keys(self, stream_key: str) -> list[str]:
        keys = self.keys
        return [stream_key, keys.metrics_recent, keys.files_committed, keys.drift_page_hinkley]

    def _args(self, effects: BatchEffects) -> list[Any]:
        cap = self.settings.recent_predictions
        return [self.group, self.settings.dedup_ttl_s, cap, effects.payload(cap)]


class SentBatch:
    """A batch whose Lua step was sent on `connection` (None: not sent)."""

    def __init__(
        self,
        applier: EffectsApplier,
        stream_key: str,
        effects: BatchEffects,
        connection: redis.connection.Connection | None,
    ) -> None:
        self.applier = applier
        self.stream_key = stream_key
        self.effects = effects
        self._connection = connection

    def wait(self) -> int:
        """The step's outcome, as `EffectsApplier.apply` returns it."""
        connection, self._connection = self._connection, None
        applier, effects = self.applier, self.effects
        if connection is None:
            return applier.apply(self.stream_key, effects)
        pool = applier.client.connection_pool
        try:
            reply: Any = connection.read_response()
        except NoScriptError:  # not loaded in Redis yet: `apply` loads it
            reply = None
        except redis.ResponseError:  # the script's own error
            raise
        except Exception:  # noqa: BLE001  (the connection broke, the step ran or not:
            # applied again, the marks make it count nothing twice)
            connection.disconnect()  # type: ignore[no-untyped-call]
            reply = None
        finally:
            pool.release(connection)
        if isinstance(reply, list):  # duplicates the step refused: the batch without them
            effects.drop([int(position) for position in reply])
        elif reply is not None:
            return int(reply)
        return applier.apply(self.stream_key, effects)
