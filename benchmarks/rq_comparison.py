"""Section 3: the design mlmon replaces, one RQ job per prediction (`benchmarks.rq_jobs`),
with RQ's two worker classes, and mlmon's rate as a multiple of it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import redis
from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from benchmarks.harness import Bench, BenchmarkError, floor_verdict, rate_text
from benchmarks.traffic import Traffic
from benchmarks.worker_runs import delete_matching

SECTION = 3
RQ_JOB = "benchmarks.rq_jobs.record_prediction"
RQ_MULTIPLE_FLOOR = 100.0


def bench_rq(bench: Bench) -> None:
    """The same predictions as one RQ job each, with RQ's two worker classes."""
    ours_per_s = bench.facts.get("all_groups_steady_per_s")
    for label, worker_class, count in (
        ("SimpleWorker (no fork)", SimpleWorker, bench.sizes.rq_simple_jobs),
        ("Worker (default, forks per job)", Worker, bench.sizes.rq_fork_jobs),
    ):
        bench.say(f"rq: {count:,} jobs with {label}")
        per_s = run_rq(bench, worker_class, count)
        bench.say(f"  {per_s:,.0f} jobs/s")
        bench.add(
            SECTION,
            f"RQ {label}, one job per prediction ({count:,} jobs)",
            rate_text(per_s),
            value=per_s,
            unit="predictions/s",
        )
        multiple = None if ours_per_s is None else ours_per_s / per_s
        bench.add(
            SECTION,
            f"mlmon all groups, 1 consumer (excl. start-up), as a multiple of RQ {label}",
            "n/a (run the consumer section)" if multiple is None else f"{multiple:,.1f}x",
            value=multiple,
            unit="x",
            floor=f">= {RQ_MULTIPLE_FLOOR:g}x",
            passed=floor_verdict(multiple, RQ_MULTIPLE_FLOOR, at_most=False),
        )


def run_rq(bench: Bench, worker_class: type[BaseWorker], count: int) -> float:
    """Enqueue `count` jobs, drain them with one burst worker in this process; jobs/s.

    Enqueueing is not timed (as publishing is not for mlmon); the worker is built before
    the clock starts, so only job processing is timed.
    """
    connection = redis.Redis.from_url(bench.url)
    queue_name = bench.sub(f"rq{uuid.uuid4().hex[:6]}")
    home = bench.tmp / "home-rq"
    home.mkdir(parents=True, exist_ok=True)
    jsonl = home / f"{queue_name}.jsonl"
    counters_key = f"{queue_name}:counters"
    queue = Queue(queue_name, connection=connection)
    events = Traffic(seed=3, feature_share=0.3).predictions(count)
    queue.enqueue_many(
        [
            Queue.prepare_data(
                RQ_JOB,
                args=(e.model_dump_json(), str(jsonl), counters_key),
                job_id=f"{queue_name}-{i}",
            )
            for i, e in enumerate(events)
        ]
    )
    worker = worker_class([queue], connection=connection, name=f"{queue_name}-worker")
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    elapsed_s = time.perf_counter() - started
    try:
        _check_rq(connection, queue, jsonl, counters_key, count)
    finally:
        _clean_rq(connection, queue_name)
        jsonl.unlink(missing_ok=True)
        connection.close()
    return count / elapsed_s


def _check_rq(
    connection: redis.Redis, queue: Queue, jsonl: Path, counters_key: str, count: int
) -> None:
    """The RQ rate counts only if every job wrote its line and its counters."""
    lines = sum(1 for _ in jsonl.open("rb")) if jsonl.exists() else 0
    counted = int(connection.hget(counters_key, "predictions") or 0)
    failed = queue.failed_job_registry.count
    if not lines == counted == count or failed:
        raise BenchmarkError(
            f"RQ check failed: {count:,} jobs, {lines:,} lines, {counted:,} counted, "
            f"{failed} failed"
        )


def _clean_rq(connection: redis.Redis, queue_name: str) -> None:
    """RQ keeps its own `rq:` keys; remove the ones of this queue and its worker."""
    delete_matching(connection, f"rq:*{queue_name}*")
    delete_matching(connection, f"{queue_name}*")
    connection.srem("rq:queues", f"rq:queue:{queue_name}")
    connection.srem("rq:workers", f"rq:worker:{queue_name}-worker")
