"""The dead-letter stream: list, show, replay (once) and purge its entries.

A dead letter carries `stream`, `entry_id`, `group`, `reason`, `deliveries`, `dead_at`
and the original entry's fields as `entry.<field>`. Replaying puts those fields back on
the original stream as a new entry, after the cause is fixed; consumers dedupe by
`event_id`, and a letter is replayed at most once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import redis
import redis.commands.core

from producer_sdk.connection import is_cluster_client
from producer_sdk.streams import StreamName
from worker.keys import Keys
from worker.log import get_logger
from worker.redis_values import as_text, parse_stream_id
from worker.scripts import load_script
from worker.settings import Settings

ORIGINAL_FIELD_PREFIX = b"entry."
DeadEntry = tuple[str, dict[bytes, bytes], str, int]  # entry id, fields, reason, deliveries
log = get_logger(__name__)


def send_to_dead(
    client: redis.Redis,
    script: redis.commands.core.Script,
    *,
    settings: Settings,
    group: str,
    stream: StreamName,
    stream_key: str,
    dead: list[DeadEntry],
) -> None:
    """Dead-letter and acknowledge entries, each once (a poison entry once per group)."""
    keys = Keys.of(settings)
    pipe = client.pipeline(transaction=False)
    # a cluster pipeline runs no scripts: there each letter is a round trip (they are rare)
    runner = client if is_cluster_client(client) else pipe
    dead_at = datetime.now(UTC).isoformat()
    for entry_id, fields, reason, deliveries in dead:
        group_scope = group if reason.startswith("poison") else None
        letter: dict[str | bytes, Any] = {
            "stream": stream_key,
            "entry_id": entry_id,
            "group": group,
            "reason": reason,
            "deliveries": deliveries,
            "dead_at": dead_at,
        }
        letter |= {ORIGINAL_FIELD_PREFIX + name: value for name, value in fields.items()}
        script(
            keys=[keys.dead_stream, stream_key, keys.dead_mark(stream, entry_id, group_scope)],
            args=[
                group,
                entry_id,
                settings.stream_maxlen,
                settings.dedup_ttl_s,
                *chain.from_iterable(letter.items()),
            ],
            client=runner,
        )
        log.warning("dead-lettered", entry_id=entry_id, reason=reason)
    pipe.execute()


@dataclass(frozen=True)
class DeadLetter:
    letter_id: str
    fields: dict[str, str]
    original: dict[bytes, bytes]
    replayed_as: str | None

    @property
    def stream(self) -> str:
        return self.fields.get("stream", "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.letter_id,
            **self.fields,
            "original": {
                k.decode(errors="replace"): v.decode(errors="replace")
                for k, v in self.original.items()
            },
            "replayed_as": self.replayed_as,
        }


class DeadLetters:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys.of(settings)

    def newest(self, *, stream: str | None = None, limit: int = 50) -> list[DeadLetter]:
        """Newest first; `stream` filters by the original stream (its key or its name)."""
        letters: list[DeadLetter] = []
        names = {name.value: self.keys.stream(name) for name in StreamName}
        wanted = None if stream is None else {stream, names.get(stream, stream)}
        last = "+"
        while len(letters) < limit:
            batch: Any = self.client.xrevrange(self.keys.dead_stream, max=last, count=500)
            if not batch:
                break
            for letter_id, raw in batch:
                letter = self._letter(letter_id, raw)
                if wanted is None or letter.stream in wanted:
                    letters.append(letter)
            last = "(" + as_text(batch[-1][0])
        return letters[:limit]

    def show(self, letter_id: str) -> DeadLetter | None:
        batch: Any = self.client.xrange(self.keys.dead_stream, min=letter_id, max=letter_id)
        return self._letter(*batch[0]) if batch else None

    def replay(self, letter: DeadLetter) -> tuple[bool, str]:
        """Back onto its stream; returns (replayed now, the new entry id)."""
        if not letter.original:
            raise ValueError(f"dead letter {letter.letter_id} has no original fields to replay")
        script = load_script(self.client, "replay_dead")
        pairs = [item for pair in letter.original.items() for item in pair]
        fresh, new_id = script(
            keys=[self.keys.dead_replayed, letter.stream],
            args=[letter.letter_id, self.settings.stream_maxlen, *pairs],
        )
        return bool(fresh), as_text(new_id)

    def purge(self, *, older_than_s: float) -> int:
        """Delete letters older than `older_than_s`; returns how many went."""
        min_id = f"{int((time.time() - older_than_s) * 1000)}-0"
        removed = int(self.client.xtrim(self.keys.dead_stream, minid=min_id, approximate=False))
        replayed: dict[bytes, bytes] = self.client.hgetall(self.keys.dead_replayed)  # type: ignore[assignment]
        stale = [k for k in replayed if parse_stream_id(as_text(k)) < parse_stream_id(min_id)]
        if stale:
            self.client.hdel(self.keys.dead_replayed, *stale)
        return removed

    def _letter(self, letter_id: bytes | str, raw: dict[bytes, bytes]) -> DeadLetter:
        letter_key = as_text(letter_id)
        fields = {
            k.decode(errors="replace"): v.decode(errors="replace")
            for k, v in raw.items()
            if not k.startswith(ORIGINAL_FIELD_PREFIX)
        }
        original = {
            k[len(ORIGINAL_FIELD_PREFIX) :]: v
            for k, v in raw.items()
            if k.startswith(ORIGINAL_FIELD_PREFIX)
        }
        replayed = self.client.hget(self.keys.dead_replayed, letter_key)
        return DeadLetter(
            letter_key, fields, original, None if replayed is None else as_text(replayed)
        )


def parse_age(text: str) -> float:
    """'7d', '12h', '30m', '45s' -> seconds."""
    units = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"{text!r} is not an age like 7d, 12h, 30m or 45s")
    return float(number) * units[unit]
