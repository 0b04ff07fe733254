"""Property: random raw stream entries (valid, invalid, extreme, non-UTF-8, huge),
interleaved with valid events, through every group, under a random environment fault
(a full disk, a read-only home, Redis restarting). No group stops for good, every valid
prediction is logged and counted exactly once, and only the invalid entries reach the
dead-letter stream."""

from __future__ import annotations

import json
import os
import resource
import signal
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from helpers import jsonl_ids, log_files, make_prediction, run_mlmon
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_faults import file_modes_bind_root
from test_reliability import start_worker

from worker.consumer.codec import MAX_ENTRY_BYTES
from worker.local.redis_server import AOF_ALWAYS, RedisServer

pytestmark = pytest.mark.slow
GROUPS = "logs,metrics,feedback,retrain,alerts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private server for the module's examples, each under its own prefix."""
    private = RedisServer(tmp_path_factory.mktemp("redis"), args=AOF_ALWAYS).start()
    yield private
    private.stop(save=False)


def valid_event(number: int) -> str:
    return make_prediction(ticker=f"V{number}.NS", ts=datetime.now(UTC)).model_dump_json()


def invalid_entry(kind: str, number: int) -> dict[bytes, bytes]:
    """One raw entry no group can use, of the given kind."""
    base = json.loads(make_prediction(ticker=f"X{number}.NS").model_dump_json())
    event: object
    if kind == "not json":
        return {b"event": b"{not json" + str(number).encode()}
    if kind == "non-utf8":
        return {b"event": b"\xff\xfe" + bytes(range(128, 160)), b"\xfa\xfb": b"\x00"}
    if kind == "huge":
        return {b"event": json.dumps({**base, "model_version": "x" * MAX_ENTRY_BYTES}).encode()}
    if kind == "far future":
        event = {**base, "ts": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    elif kind == "year 9999":
        event = {**base, "ts": "9999-12-31T23:59:59+00:00"}
    elif kind == "year 1":
        event = {**base, "ts": "0001-01-01T00:00:00+05:30"}
    elif kind == "nan":
        return {b"event": json.dumps({**base, "ml_confidence": float("nan")}).encode()}
    else:  # an unknown type
        event = {**base, "type": "SELL_EVERYTHING"}
    return {b"event": json.dumps(event).encode()}


INVALID_KINDS = [
    "not json",
    "non-utf8",
    "huge",
    "far future",
    "year 9999",
    "year 1",
    "nan",
    "unknown type",
]
entries = st.lists(st.none() | st.sampled_from(INVALID_KINDS), min_size=1, max_size=40)


def small_files() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000, 2_000))


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=entries, fault=st.sampled_from(["none", "full disk", "read-only home", "restart"]))
def test_no_group_stops_valid_events_once_only_invalid_dead(
    server: RedisServer, entries: list[str | None], fault: str
) -> None:
    prefix = f"p{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {
            **os.environ,
            "REDIS_URL": server.url,
            "MLMON_PREFIX": prefix,
            "MLMON_HOME": str(home),
            "MLMON_BLOCK_MS": "100",
            "ML_MAX_DELIVERIES": "1",
        }
        client = redis.Redis.from_url(server.url)
        stream = f"{prefix}:stream:predictions"
        valid_ids, invalid_ids = [], set()
        for number, kind in enumerate(entries):
            if kind is None:
                event = valid_event(number)
                client.xadd(stream, {"event": event})
                valid_ids.append(json.loads(event)["event_id"])
            else:
                invalid_ids.add(client.xadd(stream, invalid_entry(kind, number)).decode())

        if fault == "read-only home":
            home.chmod(0o555)
        preexec = {"full disk": small_files, "read-only home": file_modes_bind_root}.get(fault)
        faulty = start_worker(env, "--burst", "--groups", GROUPS, preexec_fn=preexec)
        if fault == "restart":
            server.stop()
            server.start()
        faulty.communicate(timeout=120)  # it may fail: the fault is real
        home.chmod(0o755)  # the fault clears
        client = redis.Redis.from_url(server.url)
        final = run_mlmon("worker", "--burst", "--groups", GROUPS, env=env, timeout_s=120)

        assert final.returncode == 0, final.stderr
        dead = {f[b"entry_id"].decode() for _, f in client.xrange(f"{prefix}:stream:dead")}
        assert dead == invalid_ids
        logged = [i for path in log_files(home)[0] for i in jsonl_ids(path)]
        assert sorted(logged) == sorted(valid_ids)
        counted = int(client.hget(f"{prefix}:metrics:all", "predictions") or 0)
        assert counted == len(valid_ids)
        for group in GROUPS.split(","):
            if group in {"logs", "metrics", "feedback"}:
                assert client.xpending(stream, group)["pending"] == 0
        client.delete(*client.keys(f"{prefix}:*"))
        client.close()
