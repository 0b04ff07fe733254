"""Asking for a retrain: the gate decides, an accepted request becomes an RQ job.

Kept apart from `gate` so that reading the gate's view (`mlmon status`) needs no rq.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import redis

from worker.keys import Keys
from worker.redis_conn import connect_rq
from worker.redis_values import as_text
from worker.retraining.files import utc_now_iso
from worker.retraining.gate import Decision, Trigger, ask_gate, decision_fields, finish_run
from worker.retraining.history import append_history
from worker.retraining.registry import ModelRegistry
from worker.rq_check import check_rq_prefix
from worker.settings import Settings

if TYPE_CHECKING:
    from rq import Queue

RETRY_INTERVALS_S = [10, 60, 300]  # for transient errors (Redis, disk)
RESULT_TTL_S = 7 * 86_400


def retraining_queue(client: redis.Redis, settings: Settings) -> Queue:
    """The RQ queue of retraining jobs (JSON-serialized, so any RQ worker can read them)."""
    # RQ is imported where a job is enqueued or looked at, not with the module: every
    # worker process imports this module, and RQ costs 70 ms of start-up
    from rq import Queue  # noqa: PLC0415
    from rq.serializers import JSONSerializer  # noqa: PLC0415

    check_rq_prefix(settings)
    return Queue(
        Keys.of(settings).retraining_queue,
        connection=connect_rq(settings, client),
        serializer=JSONSerializer,
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
    free_unreadable_job(client, settings)  # a dry run too: the scheduled check probes first
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


UNREADABLE = (
    "the RQ worker that took job {job_id} could not run it (a worker without the JSON "
    "serializer, such as a plain `rq worker`?); run `mlmon rq-worker`, or "
    "`rq worker -S rq.serializers.JSONSerializer {queue}`"
)
ENDED_STATUSES = {"scheduled", "failed", "stopped", "canceled", "deferred"}


def free_unreadable_job(client: redis.Redis, settings: Settings) -> bool:
    """Free the single-flight slot of a job that a worker took but could not run.

    A worker that cannot deserialize the job (started without the JSON serializer) fails
    it before any of mlmon's code runs, and RQ reschedules it: the slot would stay taken
    until the job's timeout. The job's own code marks `active_started` first thing, so a
    job a worker started and ended without that mark never ran: it is deleted, and the
    run recorded as failed with how to fix the worker (an alert follows).
    """
    keys = Keys.of(settings)
    state: Any = client.hmget(keys.retrain_state, ["active_job", "active_started"])
    job_id, started = (None if v is None else as_text(v) for v in state)
    if not job_id or started == job_id:
        return False
    rq_client = connect_rq(settings, client)
    job: Any = rq_client.hmget(Keys.rq_job(settings.rq_prefix, job_id), ["status", "started_at"])
    status, began = job
    if not began or status is None or as_text(status) not in ENDED_STATUSES:
        return False  # queued and not taken yet, or running now
    from rq.exceptions import NoSuchJobError  # noqa: PLC0415
    from rq.job import Job  # noqa: PLC0415
    from rq.serializers import JSONSerializer  # noqa: PLC0415

    error = UNREADABLE.format(job_id=job_id, queue=keys.retraining_queue)
    with contextlib.suppress(NoSuchJobError):
        Job.fetch(job_id, connection=rq_client, serializer=JSONSerializer).delete()
    summary = {"job_id": job_id, "outcome": "failed", "error": error, "at": utc_now_iso()}
    if not finish_run(client, settings, job_id=job_id, completed=False, summary=summary):
        return False
    append_history(settings, "run", summary)
    ModelRegistry(client, settings).publish_event(
        "retrain_failed", {"error": error, "job_id": job_id}
    )
    return True


def _enqueue(client: redis.Redis, settings: Settings, decision: Decision, *, force: bool) -> None:
    from rq import Retry  # noqa: PLC0415

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
