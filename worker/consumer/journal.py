"""Append-only files whose lines appear exactly once, committed together with Redis.

Each file's committed length is kept in Redis (`Keys.files_committed`) and moves only in
the same atomic step that acknowledges the batch (`worker.consumer.effects`). So:

1. Under a file lock (consumers sharing `MLMON_HOME` take turns), read the committed
   lengths and the batch's idempotency marks in one round trip.
2. Bytes past a committed length were written by a batch that never committed (its worker
   died before acknowledging); its entries are still pending and come back, so the bytes
   are cut off, a half-written last line with them.
3. Append what the batch adds for events not yet marked, flush, fsync.
4. The caller commits marks, lengths and acknowledgements in one Lua call, still under
   the lock. A crash before that leaves the entries pending and the bytes uncommitted;
   a crash after it leaves nothing to redo.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import redis

from worker.consumer.marks import Mark, Marks
from worker.keys import Keys
from worker.log import get_logger

log = get_logger(__name__)


class JournalBatch:
    """The files of one batch, open for appending after their committed lengths."""

    def __init__(self, home: Path, committed: dict[str, int], logged: set[str]) -> None:
        self.home = home
        self.committed = committed
        self.logged = logged
        self.new_lengths: dict[str, int] = {}

    def append(self, path: Path, text: str | bytes, *, header: str = "") -> None:
        """Append `text` (UTF-8 when bytes; and `header` first, when the file is empty)
        after the commit."""
        name = self.name(path)
        committed = self.new_lengths.get(name, self.committed[name])
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as file:
            if file.tell() != committed:
                log.warning(
                    "cutting uncommitted bytes of a batch that did not finish",
                    file=name,
                    committed=committed,
                    size=file.tell(),
                )
                file.truncate(committed)
            if text:
                body = text if isinstance(text, bytes) else text.encode()
                data = (header.encode() if committed == 0 else b"") + body
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
                committed += len(data)
        self.new_lengths[name] = committed

    def name(self, path: Path) -> str:
        return path.relative_to(self.home).as_posix()


class Journal:
    """Exactly-once appends to files under `home`, for one consumer group."""

    def __init__(
        self, client: redis.Redis, keys: Keys, *, home: Path, group: str, lock_path: Path
    ) -> None:
        self.client = client
        self.keys = keys
        self.home = home
        self.group = group
        self.lock_path = lock_path
        self.marks = Marks(keys, group)

    @contextmanager
    def batch(self, paths: Iterable[Path], marks: Mapping[str, Mark]) -> Iterator[JournalBatch]:
        """Lock, read the state of `paths` and of the events of `marks` (event id -> its
        mark, `Marks.of`), and yield the batch.

        Commit the batch's effects (with `batch.new_lengths`) before leaving the block.
        """
        paths = list(paths)
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                committed, logged = self._read_state(paths, marks)
                yield JournalBatch(self.home, committed, logged)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_state(
        self, paths: list[Path], marks: Mapping[str, Mark]
    ) -> tuple[dict[str, int], set[str]]:
        """Committed lengths and which events are done, in one round trip.

        A file Redis knows nothing of is recorded at its current length before anything is
        written to it, so that a crash in the first write to it can still be cut off.
        """
        names = [path.relative_to(self.home).as_posix() for path in paths]
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.files_committed, names)
        wanted = list(marks.values())
        self.marks.queue_check(pipe, wanted)
        lengths, *replies = pipe.execute()
        committed: dict[str, int] = {}
        unknown: dict[str | bytes, int] = {}
        for name, path, raw in zip(names, paths, lengths, strict=True):
            size = path.stat().st_size if path.exists() else 0
            if raw is None:
                unknown[name] = size
            elif int(raw) > size:
                log.warning("file shorter than its committed length; was it edited?", file=name)
            committed[name] = size if raw is None else min(int(raw), size)
        if unknown:
            self.client.hset(self.keys.files_committed, mapping=unknown)  # type: ignore[arg-type]
        found = self.marks.read_check(self.client, wanted, replies)
        done = {event_id for event_id, is_set in zip(marks, found, strict=True) if is_set}
        return committed, done


def read_committed(
    client: redis.Redis, keys: Keys, *, home: Path, path: Path, lock_path: Path
) -> str:
    """A journal file's committed text, read under its lock: never a half-written batch."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not path.exists():
                return ""
            committed = client.hget(keys.files_committed, path.relative_to(home).as_posix())
            with path.open("rb") as file:
                data = file.read() if committed is None else file.read(int(committed))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return data.decode("utf-8")
