"""The RQ retraining job: train, evaluate against the live model, promote or reject.

Runs in an RQ worker on queue `<prefix>-retraining` (JSON serializer), with the settings
of the worker's environment. Data problems and a failing trainer end the job with a
recorded failure (retrying would fail the same way); Redis and disk errors are raised so
RQ retries them with back-off. Nothing touches the live model unless the new one is
promoted, and the single-flight slot is freed however the job ends.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
import redis
from rq import get_current_job
from threadpoolctl import threadpool_limits

from worker.keys import Keys
from worker.log import get_logger
from worker.redis_conn import connect
from worker.redis_values import as_text
from worker.retraining.files import utc_now_iso
from worker.retraining.gate import committed_training_text, count_rows, finish_run
from worker.retraining.history import append_history
from worker.retraining.registry import ModelIntegrityError, ModelRegistry
from worker.retraining.training import (
    Dataset,
    TrainingDataError,
    columns_for,
    evaluate,
    load_trainer,
    parse_training_csv,
    split,
)
from worker.settings import Settings, load_settings

log = get_logger(__name__)
TRANSIENT_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def run_retraining(
    *, job_id: str, trigger: str, reason: str, force: bool = False
) -> dict[str, Any]:
    """The RQ entry point (JSON arguments). Returns the run summary."""
    settings = load_settings()
    client = connect(settings)
    try:
        return retrain(client, settings, job_id=job_id, trigger=trigger, reason=reason, force=force)
    finally:
        client.close()


def retrain(
    client: redis.Redis, settings: Settings, *, job_id: str, trigger: str, reason: str, force: bool
) -> dict[str, Any]:
    started = time.monotonic()
    # the job's own code runs: a worker that takes the job but cannot read it never gets here
    client.hset(Keys.of(settings).retrain_state, "active_started", job_id)
    base: dict[str, Any] = {"job_id": job_id, "trigger": trigger, "reason": reason, "force": force}
    registry = ModelRegistry(client, settings)
    try:
        summary = base | _train_and_decide(
            client, settings, registry, trigger=trigger, reason=reason
        )
    except TRANSIENT_ERRORS as e:
        if _last_attempt():
            _record_failure(client, settings, registry, base, f"{type(e).__name__}: {e}")
        raise
    except Exception as e:  # a data problem or the trainer's own error: retrying won't help
        log.exception("retraining failed", job_id=job_id)
        return _record_failure(client, settings, registry, base, f"{type(e).__name__}: {e}")
    summary["duration_s"] = round(time.monotonic() - started, 3)
    finish_run(
        client,
        settings,
        job_id=job_id,
        completed=True,
        summary=summary,
        rows_read=int(summary["samples"]),
        data_sha256=str(summary["data_sha256"]),
    )
    append_history(settings, "run", summary)
    return summary


def _train_and_decide(
    client: redis.Redis, settings: Settings, registry: ModelRegistry, *, trigger: str, reason: str
) -> dict[str, Any]:
    text = committed_training_text(client, settings)
    if not text:
        raise TrainingDataError(
            f"{settings.training_csv} is missing or empty; labelled rows arrive with trade outcomes"
        )
    data_sha256 = hashlib.sha256(text.encode()).hexdigest()
    live = _usable_live_model(registry)
    if live is not None and data_sha256 == _last_data_sha256(client, settings):
        # the same rows would train the same model: a new version would change nothing
        registry.publish_event("retrain_no_change", {"data_sha256": data_sha256})
        return {
            "outcome": "no change",
            "version": live[1]["version"],
            "samples": count_rows(text),
            "data_sha256": data_sha256,
            "why": "the training data is unchanged since the last completed run",
            "at": utc_now_iso(),
        }
    dataset = parse_training_csv(text, source=str(settings.training_csv))
    x_train, x_test, y_train, y_test = split(dataset)
    # OpenMP threads spin while they wait; beside busy consumers that costs minutes
    with threadpool_limits(limits=settings.train_threads):
        model = load_trainer(settings.trainer)(x_train, y_train, dataset.feature_names)
        metrics = evaluate(model, x_test, y_test)
        live_metrics = _score_live(live, Dataset(x_test, y_test, dataset.feature_names))
    version = registry.next_version()
    entry: dict[str, Any] = {
        "version": version,
        "trained_at": utc_now_iso(),
        "samples": len(dataset.labels),
        "train_rows": len(y_train),
        "metrics": metrics,
        "live_metrics": live_metrics,
        "feature_names": dataset.feature_names,
        "trigger": trigger,
        "reason": reason,
        "data_sha256": data_sha256,
    }
    tolerance = settings.promotion_tolerance
    promote = live_metrics is None or metrics["macro_f1"] >= live_metrics["macro_f1"] - tolerance
    registry.publish_event("model_trained", {"version": version, "metrics": metrics})
    if promote:
        entry = registry.promote(model, entry)
        registry.publish_event("model_promoted", {"version": version, "sha256": entry["sha256"]})
        outcome = "promoted"
    else:
        registry.reject(entry | {"sha256": None})
        why = f"macro F1 {metrics['macro_f1']} < live {live_metrics['macro_f1']} - {tolerance}"  # type: ignore[index]
        registry.publish_event("model_rejected", {"version": version, "why": why})
        outcome = "rejected"
    return {
        "outcome": outcome,
        "version": version,
        "samples": entry["samples"],
        "data_sha256": data_sha256,
        "metrics": metrics,
        "live_metrics": live_metrics,
        "at": utc_now_iso(),
    }


def _usable_live_model(registry: ModelRegistry) -> tuple[Any, dict[str, Any]] | None:
    """The live model, or None when there is none or its file fails its check (missing,
    tampered): then the candidate is trained from scratch and replaces it, recorded."""
    try:
        return registry.load_live()
    except ModelIntegrityError as e:
        log.warning("live model unusable; training a replacement from scratch", error=str(e))
        registry.publish_event("live_model_unusable", {"error": str(e)})
        return None


def _last_data_sha256(client: redis.Redis, settings: Settings) -> str | None:
    raw = client.hget(Keys.of(settings).retrain_state, "data_sha256_at_last_run")
    return None if raw is None else as_text(raw)


def _score_live(
    live: tuple[Any, dict[str, Any]] | None, held_out: Dataset
) -> dict[str, Any] | None:
    """The live model's metrics on the same held-out rows; None if none or not comparable."""
    if live is None:
        return None
    model, entry = live
    columns = columns_for(entry.get("feature_names", []), held_out)
    if columns is None:
        log.warning("live model not comparable: its features are not in the data")
        return None
    return evaluate(model, np.asarray(columns), held_out.labels)


def _record_failure(
    client: redis.Redis,
    settings: Settings,
    registry: ModelRegistry,
    base: dict[str, Any],
    error: str,
) -> dict[str, Any]:
    summary = base | {"outcome": "failed", "error": error, "at": utc_now_iso()}
    finish_run(client, settings, job_id=base["job_id"], completed=False, summary=summary)
    append_history(settings, "run", summary)
    registry.publish_event("retrain_failed", {"error": error, "job_id": base["job_id"]})
    return summary


def _last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left
