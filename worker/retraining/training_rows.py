"""Labelled rows from the trading pipeline, appended to the training CSV beside mlmon.

The feedback group appends to `data/ml_training_data.csv` through the journal
(`worker.consumer.journal`): under the file lock, bytes past the committed length kept in
Redis belong to a batch that never committed and are cut off. A writer that appends
behind mlmon's back would have its rows cut off too, so the pipeline appends here: under
the same lock, after the committed length, and it commits its new length before the lock
is released. A file mlmon has not seen yet is taken whole, as the pipeline left it.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import redis

from producer_sdk.vocabulary import Verdict
from worker.keys import Keys
from worker.retraining.training_header import LABEL_COLUMN, training_header_problem
from worker.settings import Settings

VERDICTS = frozenset(v.value for v in Verdict)


class TrainingRowsError(ValueError):
    """Rows that cannot be appended; nothing was written."""


def append_training_rows(
    client: redis.Redis, settings: Settings, rows: Sequence[Mapping[str, object]]
) -> int:
    """Append `rows` (feature name -> value, and `label`); returns how many were added.

    A new file takes the rows' names, sorted, then `label`; an existing file keeps its
    header, and a row with a name it lacks is refused.
    """
    keys, path = Keys.of(settings), settings.training_csv
    name = path.relative_to(settings.home).as_posix()
    settings.feedback_lock.parent.mkdir(parents=True, exist_ok=True)
    with settings.feedback_lock.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            size = path.stat().st_size if path.exists() else 0
            raw = client.hget(keys.files_committed, name)
            committed = size if raw is None else min(int(raw), size)
            header = _header(path) if committed else _new_header(rows)
            text = _rows_text(header, rows, with_header=not committed)
            with path.open("ab") as file:
                file.truncate(committed)  # what an unfinished batch left; it comes again
                file.write(text.encode())
                file.flush()
                os.fsync(file.fileno())
                client.hset(keys.files_committed, name, file.tell())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return len(rows)


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as file:
        header = next(csv.reader(file), [])
    problem = training_header_problem(header)
    if problem:
        raise TrainingRowsError(f"{path} has a broken header ({problem}); move it aside first")
    return header


def _new_header(rows: Sequence[Mapping[str, object]]) -> list[str]:
    names = sorted({n for row in rows for n in row} - {LABEL_COLUMN})
    header = [*names, LABEL_COLUMN]
    problem = training_header_problem(header)
    if problem:
        raise TrainingRowsError(f"the rows' columns cannot make a header: {problem}")
    return header


def _rows_text(
    header: list[str], rows: Sequence[Mapping[str, object]], *, with_header: bool
) -> str:
    known = set(header)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if with_header:
        writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - known)
        if unknown:
            raise TrainingRowsError(f"row {number}: columns {unknown} are not in the header")
        if str(row.get(LABEL_COLUMN, "")) not in VERDICTS:
            raise TrainingRowsError(
                f"row {number}: label {row.get(LABEL_COLUMN)!r} is not one of {sorted(VERDICTS)}"
            )
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in header])
    return buffer.getvalue()
