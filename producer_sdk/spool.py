"""A local spool for events that could not be published while Redis was unreachable.

One JSON line per event (`{"stream": ..., "event": ...}`), in publish order, in
`MLMON_SPOOL_DIR` (default `~/.mlmon/spool`). Replaying sends the lines in order and
removes them; a line sent twice (a crash between sending and removing) is harmless, as
consumers treat `event_id` as the idempotency key. At `MLMON_SPOOL_MAX_MB` the oldest
lines are dropped and counted, so a long outage cannot fill the trading host's disk.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_SPOOL_DIR = Path.home() / ".mlmon" / "spool"
DEFAULT_SPOOL_MAX_MB = 64.0
REPLAY_CHUNK = 500

Entry = tuple[str, bytes]  # (stream key, event JSON)
Send = Callable[[list[Entry]], object]


class PartlySent(Exception):
    """Raised by a replay's `send`: only the first `sent` entries of its chunk were taken,
    for the reason `error` (which the replay raises once it has kept the rest)."""

    def __init__(self, sent: int, error: Exception) -> None:
        super().__init__(str(error))
        self.sent = sent
        self.error = error


def default_spool_dir() -> Path:
    return Path(os.environ.get("MLMON_SPOOL_DIR") or DEFAULT_SPOOL_DIR)


def default_spool_max_bytes() -> int:
    return int(float(os.environ.get("MLMON_SPOOL_MAX_MB") or DEFAULT_SPOOL_MAX_MB) * 1024 * 1024)


class Spool:
    """The spool file of one key prefix; safe across threads and processes (file lock).

    :param directory: where the spool lives.
    :param name: the file's stem (the key prefix).
    :param max_bytes: the size at which the oldest entries are dropped.
    """

    def __init__(self, directory: Path, *, name: str, max_bytes: int) -> None:
        self.path = directory / f"{name}.jsonl"
        self.dropped_path = directory / f"{name}.dropped"
        self.lock_path = directory / f".{name}.lock"
        self.max_bytes = max_bytes

    def has_entries(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    @property
    def dropped(self) -> int:
        """Entries dropped because the spool was full, since it was created."""
        try:
            return int(self.dropped_path.read_text() or 0)
        except FileNotFoundError:
            return 0

    def append(self, entries: list[Entry]) -> None:
        data = "".join(
            json.dumps({"stream": s, "event": e.decode()}) + "\n" for s, e in entries
        ).encode()
        with self._locked():
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(data) > self.max_bytes:
                self._drop_oldest(size + len(data) - self.max_bytes)
            with self.path.open("ab") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())

    def replay(self, send: Send) -> int:
        """Send every entry in order, chunk by chunk; returns how many were sent. On an
        error the unsent entries stay (still in order) and the error propagates; a `send`
        that raises `PartlySent` has the entries it got through removed first."""
        sent = 0
        failure: Exception | None = None
        with self._locked():
            lines = self._lines()
            try:
                for start in range(0, len(lines), REPLAY_CHUNK):
                    chunk = lines[start : start + REPLAY_CHUNK]
                    items = map(json.loads, chunk)
                    try:
                        send([(item["stream"], item["event"].encode()) for item in items])
                    except PartlySent as e:
                        sent += e.sent
                        failure = e.error
                        break
                    sent += len(chunk)
            finally:
                self._rewrite(lines[sent:])
        if failure is not None:
            raise failure
        return sent

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _rewrite(self, lines: list[str]) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        temporary.replace(self.path)

    def _drop_oldest(self, excess_bytes: int) -> None:
        lines = self._lines()
        freed = dropped = 0
        while lines and freed < excess_bytes:
            freed += len(lines.pop(0).encode()) + 1
            dropped += 1
        self._rewrite(lines)
        self.dropped_path.write_text(str(self.dropped + dropped))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
