"""`mlmon demo`: the service end to end on synthetic traffic, ending with the dashboard.

1. A starting training set (when there is none) whose labels follow its features.
2. Predictions and, later, trade outcomes for part of them, through the SDK.
3. The consumer groups logs, metrics and feedback drain the streams.
4. A BACKTEST_COMPLETED event; the retrain group asks the gate; an RQ worker (in this
   process) trains, evaluates and promotes the model.
5. The model degrades: drift goes critical, an alert fires (to a webhook too when one is
   set), and the alert rules ask the retraining gate for a run.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import click
import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from producer_sdk import AnyEvent, BacktestCompleted, Publisher, StreamName
from worker.alerts.notify import alerts_queue
from worker.consumer.service import run_consumers
from worker.consumer.topology import GroupName
from worker.groups import build_consumers
from worker.groups.alerts import check_alerts
from worker.keys import Keys
from worker.local.demo_traffic import (
    synthetic_outcomes,
    synthetic_predictions,
    synthetic_training_csv,
)
from worker.retraining.request import retraining_queue
from worker.settings import Settings

STARTING_TRAINING_ROWS = 2_000
PUBLISH_CHUNK = 1_000

Say = Callable[[str], None]


class DemoError(Exception):
    """A step of the demo failed; the message says which."""


def run_demo(client: redis.Redis, settings: Settings, *, count: int, seed: int, say: Say) -> None:
    if not settings.training_csv.exists():
        settings.training_csv.parent.mkdir(parents=True, exist_ok=True)
        settings.training_csv.write_text(synthetic_training_csv(STARTING_TRAINING_ROWS, seed=seed))
        say(f"wrote {STARTING_TRAINING_ROWS} starting training rows to {settings.training_csv}")
    publisher = Publisher(client, prefix=settings.prefix, on_failure="raise")
    predictions = list(synthetic_predictions(count, seed=seed))
    outcomes = list(synthetic_outcomes(predictions, zone=settings.zone, seed=seed))
    _publish(
        publisher,
        [*predictions, *outcomes],
        f"publishing {count} predictions and {len(outcomes)} outcomes",
    )

    started = time.monotonic()
    _drain(settings, [GroupName.LOGS, GroupName.METRICS, GroupName.FEEDBACK])
    elapsed_s = time.monotonic() - started
    say(f"processed in {elapsed_s:.1f} s; prediction log in {settings.predictions_log_dir}")

    publisher.publish(
        BacktestCompleted(
            backtest_id=f"demo-{seed}", n_trades=120, win_rate=0.56, total_return_pct=8.4
        )
    )
    _drain(settings, [GroupName.RETRAIN])
    queue = retraining_queue(client, settings)
    if len(queue):
        say("training a model in an RQ job ...")
        os.environ["REDIS_URL"] = settings.redis_url  # the job reads its settings from here
        SimpleWorker([queue], connection=client, serializer=JSONSerializer).work(
            burst=True, logging_level="WARNING"
        )
    else:
        say("the retraining gate refused the backtest's request (see the dashboard)")
    _degrade(client, settings, publisher, count=count, seed=seed, say=say)


def _degrade(
    client: redis.Redis,
    settings: Settings,
    publisher: Publisher,
    *,
    count: int,
    seed: int,
    say: Say,
) -> None:
    """The model degrades in the last hour: drift goes critical, an alert fires, and the
    alert rules ask the retraining gate for a run; one input changes scale and another
    goes missing, which the feature checks flag."""
    degraded = list(
        synthetic_predictions(
            count // 2, seed=seed + 100, spread=timedelta(minutes=50), degraded=True
        )
    )
    _publish(publisher, degraded, f"publishing {len(degraded)} predictions of a degrading model")
    _drain(settings, [GroupName.LOGS, GroupName.METRICS, GroupName.FEEDBACK])
    demo_settings = settings.replace(alert_for="0s")  # no waiting in a demo
    # the demo's workers have stopped by now: only the model's own alerts are news
    fired = check_alerts(client, demo_settings, only=("drift:", "target_", "features:"))
    say(f"alert rules: {len(fired)} alert(s) on {Keys.of(settings).stream(StreamName.ALERTS)}")
    queue = alerts_queue(client, settings)
    if len(queue):
        SimpleWorker([queue], connection=client, serializer=JSONSerializer).work(
            burst=True, logging_level="WARNING"
        )


def _publish(publisher: Publisher, events: Sequence[AnyEvent], label: str) -> None:
    with click.progressbar(length=len(events), label=label, file=sys.stderr) as bar:
        for start in range(0, len(events), PUBLISH_CHUNK):
            chunk = events[start : start + PUBLISH_CHUNK]
            publisher.publish_many(chunk)
            bar.update(len(chunk))


def _drain(settings: Settings, groups: list[GroupName]) -> None:
    stop = threading.Event()
    consumers = build_consumers(settings, groups, consumer="demo", stop=stop)
    if run_consumers(consumers, burst=True, stop=stop) != 0:
        raise DemoError(f"a worker of {', '.join(groups)} failed; see the log lines above")
