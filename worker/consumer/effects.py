"""The effects of one batch, applied with its acknowledgement in one atomic Lua call.

Every group builds a `BatchEffects`: per event, the counters it adds to which hashes;
for the batch, the files it appended and the entries to acknowledge. `apply()` runs
`lua/apply_batch.lua`, which sets each event's idempotency mark (`worker.consumer.marks`)
and adds its counters only if the mark was not there yet, so a replayed event changes
nothing. The batch goes to Lua as MessagePack, which Redis decodes faster than JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import redis
from redis.commands.core import Script

from worker.consumer.marks import MAIN_CAP, Mark, Marks
from worker.keys import Keys
from worker.scripts import load_script
from worker.settings import Settings


@dataclass
class BatchEffects:
    """Collects what one batch changes; one `apply()` call commits all of it."""

    entry_ids: list[str]
    hashes: list[list[Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    file_lengths: dict[str, int] = field(default_factory=dict)
    detector_delta: float = 0.0
    mark_keys: list[str] = field(default_factory=list)
    _hash_index: dict[str, int] = field(default_factory=dict)
    _mark_index: dict[str, int] = field(default_factory=dict)

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
        hashes: Iterable[int] = (),
        ones: Iterable[str] = (),
        amounts: Mapping[str, int] | None = None,
        recent: str | None = None,
        detector_value: float | None = None,
    ) -> None:
        """Count the event of `mark` (`Marks.of`) once: +1 to each of `ones`, + each of
        `amounts`, in `hashes`; feed `detector_value` to the Page-Hinkley detector once."""
        item: dict[str, Any] = {
            "k": self._mark_ref(mark.main),
            "o": self._mark_ref(mark.overflow),
            "m": mark.member,
            "h": list(hashes),
            "f": list(ones),
        }
        if amounts:
            item["n"] = dict(amounts)
        if recent is not None:
            item["r"] = recent
        if detector_value is not None:
            item["p"] = detector_value
        self.events.append(item)

    def _mark_ref(self, key: str) -> int:
        index = self._mark_index.get(key)
        if index is None:
            self.mark_keys.append(key)
            index = self._mark_index[key] = len(self.mark_keys)
        return index

    def payload(self) -> bytes:
        lengths = [item for pair in self.file_lengths.items() for item in pair]
        batch = {
            "ids": self.entry_ids,
            "hashes": self.hashes,
            "marks": self.mark_keys,
            "mark_cap": MAIN_CAP,
            "events": self.events,
            "lengths": lengths,
            "ph_delta": self.detector_delta,
        }
        return _ENCODER.encode(batch)


_ENCODER = msgspec.msgpack.Encoder()


class EffectsApplier:
    """Runs `apply_batch.lua` for one group."""

    def __init__(self, client: redis.Redis, settings: Settings, *, group: str) -> None:
        self.settings = settings
        self.group = group
        self.keys = Keys.of(settings)
        self.marks = Marks(self.keys, group)
        self._script: Script = load_script(client, "apply_batch")

    def apply(self, stream_key: str, effects: BatchEffects) -> int:
        """Commit the batch; returns how many of its events were new."""
        applied: int = self._script(
            keys=[
                stream_key,
                self.keys.metrics_recent,
                self.keys.files_committed,
                self.keys.drift_page_hinkley,
            ],
            args=[
                self.group,
                self.settings.dedup_ttl_s,
                self.settings.recent_predictions,
                effects.payload(),
            ],
        )
        return applied
