"""Group `logs`: the daily prediction log, `predictions_YYYY-MM-DD.jsonl` and `.csv`.

Exactly once per file, by a committed length kept in Redis:

1. Under a file lock (so consumers sharing `MLMON_HOME` take turns), read each file's
   committed length. Bytes past it were written by a batch that never committed (the
   worker died before acknowledging), whose entries are still pending and come back:
   cut them off. This also removes a half-written last line.
2. Skip events whose idempotency mark exists (the same event published twice).
3. Append, flush, fsync.
4. In one Lua script: set the events' marks, store the new lengths, XACK the entries.

A crash before step 4 leaves the entries pending and the bytes uncommitted; a crash after
it leaves nothing to redo.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import redis
from redis.typing import EncodableT, FieldT

from producer_sdk.events import Prediction
from producer_sdk.streams import StreamName
from worker.codec import Delivery
from worker.keys import Keys
from worker.log import get_logger
from worker.scripts import load_script
from worker.settings import Settings

GROUP = "logs"
CSV_COLUMNS = (
    "event_id",
    "ts",
    "ticker",
    "ml_verdict",
    "ml_confidence",
    "rule_verdict",
    "final_verdict",
    "verdict_source",
    "agreement",
    "model_version",
    "features",
)
LOCK_FILE = ".lock"

log = get_logger(__name__)


def log_paths(directory: Path, day: str) -> tuple[Path, Path]:
    """The JSONL and CSV file of one day (YYYY-MM-DD)."""
    stem = directory / f"predictions_{day}"
    return stem.with_suffix(".jsonl"), stem.with_suffix(".csv")


def csv_row(event: Prediction) -> str:
    agreement = event.agrees
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        [
            event.event_id,
            event.ts.isoformat(),
            event.ticker,
            event.ml_verdict.value if event.ml_verdict else "",
            "" if event.ml_confidence is None else repr(event.ml_confidence),
            event.rule_verdict.value,
            event.final_verdict.value,
            event.verdict_source.value,
            "" if agreement is None else str(agreement).lower(),
            event.model_version or "",
            json.dumps(event.features, separators=(",", ":")) if event.features else "",
        ]
    )
    return buffer.getvalue()


CSV_HEADER = ",".join(CSV_COLUMNS) + "\n"


class LogsHandler:
    """Appends each prediction once to the JSONL and CSV of its day."""

    group: ClassVar[str] = GROUP
    streams: ClassVar[tuple[StreamName, ...]] = (StreamName.PREDICTIONS,)

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.directory = settings.predictions_log_dir
        self.directory.mkdir(parents=True, exist_ok=True)
        self._commit_script = load_script(client, "commit_logs")

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> None:
        unique: dict[str, Prediction] = {}
        for delivery in deliveries:
            event = delivery.event
            assert isinstance(event, Prediction)  # the predictions stream carries only these
            unique.setdefault(event.event_id, event)
        by_day: dict[str, list[Prediction]] = {}
        for event in unique.values():
            day = event.ts.astimezone(self.settings.zone).date().isoformat()
            by_day.setdefault(day, []).append(event)
        paths = {day: log_paths(self.directory, day) for day in by_day}
        with self._locked():
            committed, logged = self._read_state(
                [path for pair in paths.values() for path in pair], list(unique)
            )
            new_lengths: dict[str, int] = {}
            for day, events in by_day.items():
                todo = [e for e in events if e.event_id not in logged]
                jsonl, csv_path = paths[day]
                jsonl_text = "".join(e.model_dump_json() + "\n" for e in todo)
                csv_text = "".join(csv_row(e) for e in todo)
                new_lengths[jsonl.name] = self._append(jsonl, committed[jsonl.name], jsonl_text, "")
                new_lengths[csv_path.name] = self._append(
                    csv_path, committed[csv_path.name], csv_text, CSV_HEADER
                )
            fresh = [event_id for event_id in unique if event_id not in logged]
            self._commit(stream, deliveries, fresh, new_lengths)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.directory / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_state(
        self, paths: list[Path], event_ids: list[str]
    ) -> tuple[dict[str, int], set[str]]:
        """In one round trip: each file's committed length, and which events are logged.

        A file Redis knows nothing of is recorded at its current length before anything
        is written to it, so that a crash in the first write to it can still be cut off.
        """
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.logs_committed, [path.name for path in paths])
        pipe.mget([self.keys.dedup(self.group, event_id) for event_id in event_ids])
        lengths, marks = pipe.execute()
        committed: dict[str, int] = {}
        unknown: dict[FieldT, EncodableT] = {}
        for path, raw in zip(paths, lengths, strict=True):
            size = path.stat().st_size if path.exists() else 0
            if raw is None:
                unknown[path.name] = size
            elif int(raw) > size:
                log.warning("log file shorter than committed; was it edited?", file=path.name)
            committed[path.name] = size if raw is None else min(int(raw), size)
        if unknown:
            self.client.hset(self.keys.logs_committed, mapping=unknown)
        logged = {event_id for event_id, mark in zip(event_ids, marks, strict=True) if mark}
        return committed, logged

    def _append(self, path: Path, committed: int, text: str, header: str) -> int:
        """Append `text` after the committed length of `path`; returns its new length."""
        with path.open("ab") as file:
            if file.tell() != committed:
                log.warning(
                    "cutting uncommitted bytes from a batch that did not finish",
                    file=path.name,
                    committed=committed,
                    size=file.tell(),
                )
                file.truncate(committed)
            if not text:
                return committed
            data = ((header if committed == 0 else "") + text).encode()
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
            return committed + len(data)

    def _commit(
        self,
        stream: StreamName,
        deliveries: Sequence[Delivery],
        fresh: list[str],
        new_lengths: dict[str, int],
    ) -> None:
        """Marks, committed lengths and acknowledgements in one atomic script."""
        batch = {
            "ids": [d.entry_id for d in deliveries],
            "marks": fresh,
            "lengths": [item for pair in new_lengths.items() for item in pair],
        }
        self._commit_script(
            keys=[self.keys.stream(stream), self.keys.logs_committed],
            args=[
                self.group,
                self.keys.dedup_prefix(self.group),
                self.settings.dedup_ttl_s,
                json.dumps(batch, separators=(",", ":")),
            ],
        )
