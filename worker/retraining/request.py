"""Asking for a retrain: the gate decides, an accepted request becomes an RQ job.

Kept apart from `gate` so that reading the gate's view (`mlmon status`) needs no rq.
"""

from __future__ import annotations

import redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from worker.keys import Keys
from worker.retraining.gate import Decision, Trigger, ask_gate, decision_fields, finish_run
from worker.retraining.history import append_history
from worker.settings import Settings

RETRY_INTERVALS_S = [10, 60, 300]  # for transient errors (Redis, disk)
RESULT_TTL_S = 7 * 86_400


def retraining_queue(client: redis.Redis, settings: Settings) -> Queue:
    """The RQ queue of retraining jobs (JSON-serialized, so any RQ worker can read them)."""
    return Queue(
        Keys(settings.prefix).retraining_queue, connection=client, serializer=JSONSerializer
    )


def request_retrain(
    client: redis.Redis,
    settings: Settings,
    *,
    trigger: Trigger,
    reason: str,
    force: bool = False,
    trigger_event_id: str | None = None,
    dry_run: bool = False,
) -> Decision:
    """Ask the gate for a retrain; when accepted, enqueue the job. Also from Python."""
    decision = ask_gate(
        client,
        settings,
        trigger=trigger,
        reason=reason,
        force=force,
        trigger_event_id=trigger_event_id,
        dry_run=dry_run,
    )
    job_id = decision.job_id or ""
    why_text = decision.why
    if dry_run or why_text == "duplicate trigger event":
        return decision
    if decision.accepted:
        try:
            _enqueue(client, settings, decision, force=force)
        except Exception:
            finish_run(
                client,
                settings,
                job_id=job_id,
                completed=False,
                summary={"outcome": "not enqueued"},
            )
            raise
    append_history(settings, "decision", decision_fields(decision))
    return decision


def _enqueue(client: redis.Redis, settings: Settings, decision: Decision, *, force: bool) -> None:
    job_id, trigger, reason = decision.job_id, decision.trigger, decision.reason
    retraining_queue(client, settings).enqueue_call(
        "worker.retraining.job.run_retraining",
        kwargs={"job_id": job_id, "trigger": trigger, "reason": reason, "force": force},
        job_id=job_id,
        timeout=settings.retrain_job_timeout_s,
        result_ttl=RESULT_TTL_S,
        failure_ttl=RESULT_TTL_S,
        retry=Retry(max=len(RETRY_INTERVALS_S), interval=RETRY_INTERVALS_S),
        description=f"retrain ({trigger}): {reason}"[:200],
    )
