"""The design mlmon replaces: one RQ job per prediction.

Without consumer groups, a user would enqueue one job per prediction doing what the two
groups do for it: validate the event, append its line to the JSONL log and add its
counters in Redis. The job below does that work, with two simplifications that favour
RQ: no fsync per line and no idempotency mark (mlmon does both), so the comparison
flatters the alternative rather than mlmon.
"""

from __future__ import annotations

from pathlib import Path

from rq import get_current_job

from producer_sdk import Prediction, VerdictSource

CONFIDENCE_BINS = 10


def counter_names(event: Prediction) -> list[str]:
    """The counters one prediction adds 1 to: the same fields as mlmon's metrics hashes."""
    names = [
        "predictions",
        f"final:{event.final_verdict.value}",
        f"rule:{event.rule_verdict.value}",
    ]
    if event.verdict_source is VerdictSource.ML:
        names.append("ml_used")
    if event.ml_verdict is not None:
        names += ["compared", f"ml:{event.ml_verdict.value}"]
        if event.ml_verdict is event.rule_verdict:
            names.append("agreed")
    if event.ml_confidence is not None:
        confidence_bin = min(int(event.ml_confidence * CONFIDENCE_BINS), CONFIDENCE_BINS - 1)
        names += ["ml_confidence_count", f"confidence_bin:{confidence_bin}"]
    return names


def record_prediction(event_json: str, jsonl_path: str, counters_key: str) -> None:
    """Validate one prediction, append its JSONL line, add its counters in one round trip."""
    event = Prediction.model_validate_json(event_json)
    with Path(jsonl_path).open("a", encoding="utf-8") as log_file:
        log_file.write(event.model_dump_json() + "\n")
    job = get_current_job()
    if job is None:
        raise RuntimeError("record_prediction runs inside an RQ job only")
    pipe = job.connection.pipeline(transaction=False)
    for name in counter_names(event):
        pipe.hincrby(counters_key, name, 1)
    if event.ml_confidence is not None:
        pipe.hincrby(counters_key, "ml_confidence_sum_micro", round(event.ml_confidence * 1e6))
    pipe.execute()
