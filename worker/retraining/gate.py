"""The retraining gate: one atomic Lua step decides every request.

A request is accepted only if no retrain is queued or running (single flight), the
interval since the last completed run has passed and enough new labelled rows exist
(both skipped with `force`): rows of the training CSV the last completed run did not
read, whoever wrote them (the feedback group or the trading pipeline); and the daily cap
is not reached. Every decision is recorded (stream `retrain:decisions`, the history file)
with its reason and, when known, the time a request would next be accepted. An accepted
request is enqueued as an RQ job.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import redis

from worker.consumer.journal import read_committed
from worker.keys import Keys
from worker.redis_values import as_text
from worker.scripts import load_script
from worker.settings import Settings

STALE_MARGIN_S = 600  # a job older than its timeout plus this is taken as dead


class Trigger(StrEnum):
    """What asked for a retrain."""

    BACKTEST = "backtest"
    ANALYSIS = "analysis"
    SCHEDULE = "schedule"
    MANUAL = "manual"
    DRIFT = "drift"


@dataclass(frozen=True)
class Decision:
    """What the gate said to one request."""

    accepted: bool
    why: str
    trigger: str
    reason: str
    job_id: str | None
    next_allowed_at: float | None
    new_samples: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ask_gate(
    client: redis.Redis,
    settings: Settings,
    *,
    trigger: Trigger,
    reason: str,
    force: bool = False,
    trigger_event_id: str | None = None,
    dry_run: bool = False,
) -> Decision:
    """The gate's decision for one request; when accepted (and not `dry_run`) it has taken
    the single-flight slot, and the caller must enqueue the job or free the slot."""
    keys = Keys.of(settings)
    job_id = f"retrain-{uuid.uuid4().hex[:12]}"
    gate = load_script(client, "retrain_gate")
    gate_keys = [keys.retrain_state, keys.retrain_runs, keys.retrain_decisions]
    if trigger_event_id:
        gate_keys.append(keys.dedup("retrain", trigger_event_id))
    accepted, why, next_at, new_samples = gate(
        keys=gate_keys,
        args=[
            int(time.time()),
            int(settings.retrain_interval_hours * 3600),
            settings.retrain_min_new_samples,
            settings.retrain_max_per_day,
            int(force),
            settings.retrain_job_timeout_s + STALE_MARGIN_S,
            job_id,
            trigger,
            reason,
            int(dry_run),
            settings.dedup_ttl_s,
            count_rows(committed_training_text(client, settings)),
        ],
    )
    why_text = as_text(why)
    next_text = as_text(next_at)
    return Decision(
        accepted=bool(accepted),
        why=why_text,
        trigger=trigger,
        reason=reason,
        job_id=job_id if accepted else None,
        next_allowed_at=float(next_text) if next_text else None,
        new_samples=int(new_samples),
    )


def finish_run(
    client: redis.Redis,
    settings: Settings,
    *,
    job_id: str,
    completed: bool,
    summary: dict[str, Any],
    rows_read: int | None = None,
    data_sha256: str | None = None,
) -> bool:
    """Free the single-flight slot of `job_id`; a completed run starts the interval and
    uses up the `rows_read` it trained on (data `data_sha256`)."""
    finish = load_script(client, "retrain_finish")
    keys = Keys.of(settings)
    freed = finish(
        keys=[keys.retrain_state],
        args=[
            job_id,
            int(completed),
            int(time.time()),
            json.dumps(summary, sort_keys=True),
            "" if rows_read is None else rows_read,
            data_sha256 or "",
        ],
    )
    return bool(freed)


def committed_training_text(client: redis.Redis, settings: Settings) -> str:
    """The training CSV as committed (never half a batch), read under its lock; with
    partitions, the shared file (rows appended by hand) and then every partition's, in
    partition order, under the first one's header."""
    sources = dict.fromkeys([settings, *settings.partition_settings()])
    texts = [
        read_committed(
            client,
            Keys.of(part),
            home=part.home,
            path=part.training_csv,
            lock_path=part.feedback_lock,
        )
        for part in sources
    ]
    return join_csv_texts(texts)


def join_csv_texts(texts: list[str]) -> str:
    """CSV texts with one header: the first file's; the others' must be the same."""
    present = [text for text in texts if text]
    if len(present) <= 1:
        return present[0] if present else ""
    header = present[0].partition("\n")[0]
    parts = [present[0]]
    for text in present[1:]:
        first, _, rows = text.partition("\n")
        if first != header:
            raise ValueError(f"partitions' training files differ in their columns: {first!r}")
        parts.append(rows)
    return "".join(parts)


def count_rows(text: str) -> int:
    """Data rows of a CSV text: its non-empty lines after the header (csv reads only the
    header, which a quoted name may spread over lines); cheap enough for every status call."""
    if not text:
        return 0
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return max(0, lines - reader.line_num - text.count("\n\n"))


def decision_fields(decision: Decision) -> dict[str, Any]:
    next_at = decision.next_allowed_at
    return {
        "accepted": decision.accepted,
        "why": decision.why,
        "trigger": decision.trigger,
        "reason": decision.reason,
        "job_id": decision.job_id,
        "new_samples": decision.new_samples,
        "next_allowed_at": None
        if next_at is None
        else datetime.fromtimestamp(next_at, UTC).isoformat(),
    }
