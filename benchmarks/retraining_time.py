"""Section 7: wall time of one forced retraining run through `mlmon rq-worker --burst`,
on a training CSV the feedback group wrote."""

from __future__ import annotations

import importlib
import importlib.util
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import MLMON, Bench, BenchmarkError
from benchmarks.traffic import Traffic
from benchmarks.worker_runs import WORKER_TIMEOUT_S, delete_matching, run_workers, worker_env
from producer_sdk import Outcome, Publisher, TradeOutcome
from worker.keys import Keys
from worker.settings import load_settings

SECTION = 7
RETRAIN_API = "worker.retraining.request"


def bench_retraining(bench: Bench) -> None:
    """Wall time of one retraining run, once `worker.retraining` exists.

    Goes the documented way: the feedback group writes the training CSV from predictions
    and their outcomes, `worker.retraining.request.request_retrain(..., force=True)` enqueues
    the job, and `mlmon rq-worker --burst` runs it (train, evaluate, register, promote).
    """
    request_retrain, missing = _retraining_api()
    if request_retrain is None:
        bench.add(SECTION, "retraining wall time", f"not available yet ({missing})")
        return
    count = bench.sizes.storage_events
    prefix, home = bench.sub("retrain"), bench.tmp / "home-retrain"
    csv_path = training_csv(bench, prefix, home, count)
    rows = sum(1 for _ in csv_path.open("rb")) - 1
    settings = load_settings(REDIS_URL=bench.url, MLMON_PREFIX=prefix, MLMON_HOME=str(home))
    decision = request_retrain(
        bench.client, settings, trigger="manual", reason="benchmark", force=True
    )
    if not decision.accepted:
        raise BenchmarkError(f"the retraining gate refused a forced request: {decision.why}")
    bench.say(f"retraining: `mlmon rq-worker --burst` on {rows:,} labelled rows")
    started = time.perf_counter()
    subprocess.run(
        [str(MLMON), "rq-worker", "--burst"],
        env=worker_env(bench, prefix, home),
        capture_output=True,
        check=True,
        timeout=WORKER_TIMEOUT_S,
    )
    wall_s = time.perf_counter() - started
    summary = json.loads(bench.client.hget(Keys(prefix).retrain_state, "last_run") or "{}")
    if "duration_s" not in summary:
        raise BenchmarkError(f"the retraining job did not complete: {summary}")
    bench.add(
        SECTION,
        f"retraining: `mlmon rq-worker --burst` running one forced retrain on {rows:,} "
        "labelled rows (wall, incl. start-up and fork)",
        f"{wall_s:.2f} s (the job's own duration_s: {summary['duration_s']:.2f} s; "
        f"model {summary.get('outcome', '?')})",
        value=wall_s,
        unit="s",
    )
    delete_matching(bench.client, f"{prefix}:*")
    delete_matching(bench.client, f"rq:*{prefix}-*")


def _retraining_api() -> tuple[Any, str]:
    """`request_retrain` of the documented retraining API, or None and why not."""
    if importlib.util.find_spec("worker.retraining") is None:
        return None, "no `worker.retraining`"
    try:
        module = importlib.import_module(RETRAIN_API)
    except ImportError as e:
        return None, f"`{RETRAIN_API}` does not import: {e}"
    request_retrain = getattr(module, "request_retrain", None)
    if request_retrain is None:
        return None, f"`{RETRAIN_API}` has no `request_retrain`"
    return request_retrain, ""


def training_csv(bench: Bench, prefix: str, home: Path, count: int) -> Path:
    """A labelled training CSV made the real way: predictions with features and their
    trade outcomes through the `feedback` group."""
    traffic = Traffic(seed=6, feature_share=1.0)
    predictions = traffic.predictions(count)
    rng = random.Random(6)
    outcomes = [
        TradeOutcome(
            ticker=p.ticker,
            prediction_date=p.ts.date(),
            actual_outcome=rng.choice(list(Outcome)),
            pnl_pct=round(rng.gauss(1.0, 6.0), 2),
            holding_days=rng.randint(1, 20),
            prediction_id=p.event_id,
        )
        for p in predictions
    ]
    publisher = Publisher(bench.client, prefix=prefix)
    for start in range(0, count, 1_000):
        publisher.publish_many(predictions[start : start + 1_000])
        publisher.publish_many(outcomes[start : start + 1_000])
    run_workers(bench, worker_env(bench, prefix, home), "feedback", 1)
    settings = load_settings(REDIS_URL=bench.url, MLMON_PREFIX=prefix, MLMON_HOME=str(home))
    path: Path = settings.training_csv
    if not path.exists():
        raise BenchmarkError(f"the feedback group wrote no {path.name}")
    return path
