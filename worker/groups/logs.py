"""Group `logs`: the daily prediction log, `predictions_YYYY-MM-DD.jsonl` and `.csv`.

Every event appears exactly once in each file, also when a worker dies between writing and
acknowledging: see `worker.consumer.journal` for how.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import ClassVar

import msgspec
import redis

from producer_sdk.encoding import event_json
from producer_sdk.events import Prediction
from producer_sdk.streams import StreamName
from producer_sdk.vocabulary import Verdict, VerdictSource
from worker.consumer.codec import Delivery
from worker.consumer.csv_cells import FORMULA_LEADS, safe_cell
from worker.consumer.effects import BatchEffects, EffectsApplier
from worker.consumer.handler import Rejected
from worker.consumer.journal import Journal
from worker.consumer.marks import Mark
from worker.consumer.retention import age_logs
from worker.consumer.topology import GROUP_STREAMS, GroupName
from worker.days import ZoneDays
from worker.keys import Keys
from worker.settings import Settings

GROUP = GroupName.LOGS
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
CSV_HEADER = ",".join(CSV_COLUMNS) + "\n"


def log_paths(directory: Path, day: str) -> tuple[Path, Path]:
    """The JSONL and CSV file of one day (YYYY-MM-DD)."""
    stem = directory / f"predictions_{day}"
    return stem.with_suffix(".jsonl"), stem.with_suffix(".csv")


class CsvRows:
    """Formats CSV rows as `csv.writer` (QUOTE_MINIMAL) writes them, at a fraction of its
    cost: it runs for every prediction. Validation leaves every cell but two without a
    character that needs quoting (a delimiter, a quote, a line break): the model version,
    quoted as the writer quotes it (once per version seen), and the features' JSON, which
    always holds quotes, so it is always quoted. One per handler: not shared between threads.
    """

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._version_cells: dict[str | None, str] = {None: ""}

    def row(self, event: Prediction) -> str:
        agreement = event.agrees
        ml = event.ml_verdict
        confidence = event.ml_confidence
        version = self._version_cells.get(event.model_version)
        if version is None:
            version = self._version_cell(event.model_version)
        features = event.features
        return (
            ",".join(
                (
                    _safe_text(event.event_id),
                    event.ts.isoformat(),
                    event.ticker,
                    "" if ml is None else _VALUE[ml],
                    "" if confidence is None else repr(confidence),
                    _VALUE[event.rule_verdict],
                    _VALUE[event.final_verdict],
                    _VALUE[event.verdict_source],
                    "" if agreement is None else ("true" if agreement else "false"),
                    version,
                    '"' + features_json(features).replace('"', '""') + '"' if features else "",
                )
            )
            + "\n"
        )

    def _version_cell(self, version: str | None) -> str:
        """The model version's cell, as the writer quotes it (remembered)."""
        if len(self._version_cells) > 10_000:
            self._version_cells = {None: ""}
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(["", safe_cell(version or "")])
        cell = self._version_cells[version] = self._buffer.getvalue()[1:-1]
        return cell


def _safe_text(text: str) -> str:
    """`safe_cell` of a text, typed as one."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def features_json(features: dict[str, float]) -> str:
    """The features as `json.dumps(features, separators=(",", ":"))` writes them; by
    msgspec (a third of the cost) when both write the same: names of printable ASCII
    only (json.dumps escapes the rest as \\uXXXX) and no float that either writes with an
    exponent (Python's repr does below 1e-4 and from 1e16 on, spelt unlike msgspec's)."""
    values = features.values()
    if (
        (features.keys() <= _PLAIN_NAMES or _all_plain(features))
        and min(map(abs, values)) >= 1e-4
        and max(map(abs, values)) < 1e16
    ):
        return _ENCODE(features).decode()
    return json.dumps(features, separators=(",", ":"))


def _all_plain(features: dict[str, float]) -> bool:
    """Whether every name is printable ASCII; such names are remembered."""
    if not all(name.isascii() and name.isprintable() for name in features):
        return False
    if len(_PLAIN_NAMES) > 10_000:
        _PLAIN_NAMES.clear()
    _PLAIN_NAMES.update(features)
    return True


_PLAIN_NAMES: set[str] = set()
_ENCODE = msgspec.json.Encoder().encode


# an enum's `.value` is a Python-level property: a table is several times cheaper per row
_VALUE: dict[Enum, str] = {member: member.value for member in (*Verdict, *VerdictSource)}


def csv_row(event: Prediction) -> str:
    """One row of the prediction CSV."""
    return CsvRows().row(event)


LOG_AGING_INTERVAL_S = 3_600


class LogsHandler:
    """Appends each prediction once to the JSONL and CSV of its day."""

    group: ClassVar[str] = GROUP
    streams: ClassVar[tuple[StreamName, ...]] = GROUP_STREAMS[GROUP]

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys.of(settings)
        self.directory = settings.predictions_log_dir
        self.journal = Journal(
            client,
            self.keys,
            home=settings.home,
            group=self.group,
            lock_path=self.directory / ".lock",
        )
        self.effects = EffectsApplier(client, settings, group=self.group)
        self.csv_rows = CsvRows()
        self.client = client
        self._next_aging_s = 0.0
        self._days = ZoneDays(settings.zone)

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> list[Rejected]:
        # event id -> its JSON line and CSV row, formatted before the lock is taken, so
        # consumers sharing MLMON_HOME overlap the work; the first copy of an id counts
        lines: dict[str, tuple[bytes, str]] = {}
        marks: dict[str, Mark] = {}
        by_day: dict[str, list[str]] = {}
        row, mark_of, day_of = self.csv_rows.row, self.effects.marks.of, self._days.of
        for delivery in deliveries:
            event = delivery.event
            assert isinstance(event, Prediction)  # the predictions stream carries only these
            event_id = event.event_id
            if event_id in lines:
                continue
            lines[event_id] = (event_json(event) + b"\n", row(event))
            marks[event_id] = mark_of(event_id, event.ts)
            by_day.setdefault(day_of(event.ts), []).append(event_id)
        paths = {day: log_paths(self.directory, day) for day in by_day}
        all_paths = [path for pair in paths.values() for path in pair]
        with self.journal.batch(all_paths, marks) as batch:
            effects = BatchEffects([d.entry_id for d in deliveries])
            for day, event_ids in by_day.items():
                todo = [i for i in event_ids if i not in batch.logged]
                jsonl, csv_path = paths[day]
                batch.append(jsonl, b"".join(lines[i][0] for i in todo))
                batch.append(csv_path, "".join(lines[i][1] for i in todo), header=CSV_HEADER)
                for event_id in todo:
                    effects.add_event(marks[event_id])
            effects.file_lengths = batch.new_lengths
            self.effects.apply(self.keys.stream(stream), effects)
        return []

    def periodic(self) -> None:
        """Hourly: gzip and delete old days' logs, when ML_LOG_*_DAYS ask for it."""
        now_s = time.monotonic()
        if now_s < self._next_aging_s:
            return
        self._next_aging_s = now_s + LOG_AGING_INTERVAL_S
        if self.settings.log_compress_days or self.settings.log_retention_days:
            age_logs(self.settings, self.client, today=datetime.now(self.settings.zone).date())
