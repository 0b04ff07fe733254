"""A known set of events for the exporter and dashboard tests, and the servers under test.

`publish_known_events` publishes predictions, outcomes joined to some of them and one
malformed entry (a dead letter), and seeds a model registry and retraining counters the
way the retraining job leaves them; `mlmon worker --burst` then drains the streams.
`serving(...)` runs `mlmon exporter` or `mlmon dashboard` as a real process on a free port.
"""

from __future__ import annotations

import http.client
import json
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import redis
from helpers import MLMON, random_predictions, wait_until

from producer_sdk import Prediction, Publisher, StreamName
from worker.keys import Keys
from worker.local.redis_server import free_port
from worker.retraining.registry import ModelRegistry
from worker.settings import Settings

PROMOTED_AT = "2026-11-20T08:00:05+00:00"
LIFECYCLE = [
    ("model_trained", "2026-11-18T08:00:00+00:00", {"version": 1}),
    ("model_promoted", "2026-11-18T08:00:04+00:00", {"version": 1}),
    ("model_trained", "2026-11-19T08:00:00+00:00", {"version": 2}),
    ("model_rejected", "2026-11-19T08:00:01+00:00", {"version": 2, "why": "macro F1 lower"}),
    ("retrain_failed", "2026-11-19T20:00:00+00:00", {"error": "no labelled rows"}),
    ("model_trained", "2026-11-20T08:00:00+00:00", {"version": 3}),
    ("model_promoted", PROMOTED_AT, {"version": 3}),
]


@dataclass(frozen=True)
class KnownEvents:
    predictions: list[Prediction]
    outcomes: int
    dead_letters: int


def publish_known_events(
    publisher: Publisher,
    client: redis.Redis,
    settings: Settings,
    *,
    count: int = 300,
    spread: timedelta = timedelta(minutes=50),
    seed: int = 5,
) -> KnownEvents:
    predictions = random_predictions(count, seed=seed, spread=spread)
    publisher.publish_many(predictions)
    rng = random.Random(seed)
    joined = predictions[:40]
    for prediction in joined:
        publisher.record_outcome(
            ticker=prediction.ticker,
            prediction_date=prediction.ts.date().isoformat(),
            ml_verdict=prediction.ml_verdict,
            rule_verdict=prediction.rule_verdict,
            final_verdict=prediction.final_verdict,
            actual_outcome=rng.choice(["profit", "loss", "neutral"]),
            pnl_pct=round(rng.uniform(-8, 10), 2),
            holding_days=5,
            prediction_id=prediction.event_id,
        )
    keys = Keys.of(settings)
    client.xadd(keys.stream(StreamName.PREDICTIONS), {"event": "not json"})
    seed_models(client, settings)
    return KnownEvents(predictions=predictions, outcomes=len(joined), dead_letters=1)


def seed_models(client: redis.Redis, settings: Settings) -> None:
    """Three versions (previous, rejected, live), their lifecycle events, run counters."""
    registry = ModelRegistry(client, settings)
    keys = Keys.of(settings)
    for version, status, promoted_at in (
        (1, "previous", "2026-11-18T08:00:04+00:00"),
        (2, "rejected", None),
        (3, "live", PROMOTED_AT),
    ):
        registry.save_entry(
            {
                "version": version,
                "status": status,
                "trained_at": f"2026-11-{17 + version}T08:00:00+00:00",
                "promoted_at": promoted_at,
                "samples": 500 + 100 * version,
                "trigger": "backtest",
                "metrics": {"macro_f1": 0.5 + version / 100, "accuracy": 0.6},
            }
        )
    history = [
        {"version": 1, "since": "2026-11-18T08:00:04+00:00", "why": "promoted"},
        {"version": 3, "since": PROMOTED_AT, "why": "promoted"},
    ]
    client.hset(
        keys.model_live(settings.model_name),
        mapping={"version": 3, "history": json.dumps(history)},
    )
    for kind, ts, fields in LIFECYCLE:
        event = {"type": kind, "model": settings.model_name, "ts": ts, **fields}
        client.xadd(keys.stream(StreamName.MODELS), {"event": json.dumps(event)})
    client.hset(keys.retrain_state, mapping={"runs_completed": 2, "runs_failed": 1})


@contextmanager
def serving(command: str, env: dict[str, str], *extra: str) -> Iterator[str]:
    """`mlmon <command> --port <free port>` running; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [MLMON, command, "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/", process)
        yield url
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, f"mlmon {command} did not stop cleanly on SIGTERM: {stderr}"


def wait_for_http(url: str, process: subprocess.Popen[str], timeout_s: float = 15) -> None:
    def answers() -> bool:
        if process.poll() is not None:
            _, stderr = process.communicate()
            raise AssertionError(f"server exited {process.returncode}: {stderr}")
        try:
            get(url, timeout_s=2)
        except OSError:
            return False
        return True

    wait_until(answers, timeout_s, poll_s=0.1, what=f"an answer at {url}")


def get(url: str, *, timeout_s: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a plain-HTTP GET, also for 4xx/5xx answers."""
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname and parts.port, url
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
