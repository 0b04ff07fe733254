"""The retraining section of `mlmon status`: runs, the live version, the gate's view."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import redis

from worker.keys import Keys
from worker.redis_values import as_text
from worker.retraining.gate import Trigger, ask_gate
from worker.retraining.records import ModelRecords
from worker.settings import Settings


def retraining_summary(client: redis.Redis, settings: Settings) -> dict[str, Any]:
    keys = Keys.of(settings)
    raw: dict[bytes, bytes] = client.hgetall(keys.retrain_state)  # type: ignore[assignment]
    state = {k.decode(): v.decode() for k, v in raw.items()}
    probe = ask_gate(client, settings, trigger=Trigger.MANUAL, reason="status", dry_run=True)
    active = None
    if "active_job" in state:
        active = {
            "job_id": state["active_job"],
            "since": _iso(float(state["active_since"])),
            "trigger": state.get("active_trigger"),
            "status": _job_status(client, settings, state["active_job"]),
        }
    return {
        "available": True,
        "total_retrainings": int(state.get("runs_completed", 0)),
        "failed_runs": int(state.get("runs_failed", 0)),
        "last_retraining": json.loads(state["last_run"]) if "last_run" in state else None,
        "live_version": ModelRecords(client, settings).live_version(),
        "min_interval_hours": settings.retrain_interval_hours,
        "new_labelled_rows": probe.new_samples,
        "can_retrain_now": probe.accepted,
        "why_not": None if probe.accepted else probe.why,
        "next_allowed_at": None if probe.next_allowed_at is None else _iso(probe.next_allowed_at),
        "active_job": active,
        "last_refusal": json.loads(state["last_refusal"]) if "last_refusal" in state else None,
        "queue": keys.retraining_queue,
    }


def _job_status(client: redis.Redis, settings: Settings, job_id: str) -> str:
    """RQ's status field of the job, read directly: importing rq costs a status call 0.1 s."""
    status = client.hget(Keys.rq_job(settings.rq_prefix, job_id), "status")
    return "missing" if status is None else as_text(status)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")
