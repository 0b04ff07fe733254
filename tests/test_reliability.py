"""Faults, made real: killed consumers, poison entries, Redis stopped and restarted,
a full disk, least-privilege users, TLS, health checks, retention."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import (
    MLMON,
    LineReader,
    assert_exactly_once,
    csv_rows,
    jsonl_ids,
    log_files,
    make_prediction,
    random_predictions,
    run_mlmon,
    wait_until,
)
from test_feedback import outcome_for

from producer_sdk import Publisher, StreamName
from worker.consumer.retention import age_logs, trim_stream
from worker.keys import Keys
from worker.local.acl import acl_setuser_line, producer_acl_rules, worker_acl_rules
from worker.local.redis_server import AOF_ALWAYS, RedisServer, free_port
from worker.retraining.request import request_retrain, retraining_queue
from worker.settings import Settings, load_settings

pytestmark = pytest.mark.slow
TESTS_DIR = Path(__file__).parent


def start_worker(env: dict[str, str], *args: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MLMON, "worker", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def stop(worker: subprocess.Popen[str], log: LineReader | None = None) -> str:
    """SIGTERM; the worker must exit 0. Returns its stderr (read by `log` if it has one)."""
    worker.send_signal(signal.SIGTERM)
    if log is None:
        _, stderr = worker.communicate(timeout=30)
    else:
        worker.wait(timeout=30)
        log.join()
        stderr = log.text
    assert worker.returncode == 0, stderr
    return stderr


def logged(event: str, **fields: Callable[[Any], bool]) -> Callable[[str], bool]:
    """A predicate on the worker's JSON log lines: `event`, with fields that satisfy `fields`."""

    def matches(line: str) -> bool:
        if not line.startswith("{"):
            return False
        record = json.loads(line)
        return record.get("event") == event and all(
            name in record and check(record[name]) for name, check in fields.items()
        )

    return matches


def pending(client: redis.Redis, stream: str, group: str) -> int:
    try:
        return int(client.xpending(stream, group)["pending"])
    except redis.ResponseError:  # the group is not created yet
        return 0


def drained(client: redis.Redis, stream: str, groups: list[str]) -> bool:
    try:
        info = {g["name"].decode(): g for g in client.xinfo_groups(stream)}
    except redis.ResponseError:
        return False
    return all(g in info and info[g]["pending"] == 0 and info[g]["lag"] == 0 for g in groups)


def test_entries_of_a_killed_consumer_are_claimed_by_the_live_one(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    env = {**env, "MLMON_CLAIM_IDLE_MS": "1500", "MLMON_BATCH_SIZE": "2000"}
    predictions = random_predictions(20_000, seed=31)
    doomed = start_worker(env, "--groups", "logs,metrics", "--consumer", "a")
    survivor = start_worker(env, "--groups", "logs,metrics", "--consumer", "b")
    publisher.publish_many(predictions)
    stream = f"{prefix}:stream:predictions"
    wait_until(lambda: pending(client, stream, "logs") > 0)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=10)

    wait_until(lambda: drained(client, stream, ["logs", "metrics"]))
    stop(survivor)

    assert_exactly_once(home, env, predictions)
    owners = {c["name"].decode(): c["pending"] for c in client.xinfo_consumers(stream, "logs")}
    assert owners.get("a", 0) == 0


def test_poison_entry_goes_dead_after_max_deliveries_and_replays_once_after_the_fix(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    predictions = [
        make_prediction(ticker=t, features={"rsi": 50.0})
        for t in ("GOOD.NS", "POISON.NS", "FINE.NS")
    ]
    outcomes = [outcome_for(p, prediction_id=p.event_id) for p in predictions]
    publisher.publish_many(predictions)
    publisher.publish_many(outcomes)
    buggy = {
        **env,
        "ML_LABEL_RULE": "label_rules:explode_on_poison",
        "ML_MAX_DELIVERIES": "3",
        "PYTHONPATH": str(TESTS_DIR),
    }
    worker = start_worker(buggy, "--groups", "feedback")
    outcomes_stream = f"{prefix}:stream:outcomes"
    wait_until(
        lambda: (
            client.xlen(f"{prefix}:stream:dead") == 1
            and drained(client, outcomes_stream, ["feedback"])
        )
    )
    stderr = stop(worker)

    [(letter_id, letter)] = client.xrange(f"{prefix}:stream:dead")
    assert letter[b"reason"] == b"poison: failed 3 times on its own"
    assert json.loads(letter[b"entry.event"])["ticker"] == "POISON.NS"
    assert stderr.count("entries failed on their own") <= 2  # once per streak, not per retry
    done = [r["outcome_id"] for r in csv_rows(home / "data" / "ml_feedback.csv")]
    assert sorted(done) == sorted(o.event_id for o in outcomes if o.ticker != "POISON.NS")

    for _ in range(2):  # the fix is deployed; replaying twice is harmless
        replay = run_mlmon("dlq", "replay", "--all", env=env)
        assert replay.returncode == 0, replay.stderr
        assert run_mlmon("worker", "--burst", "--groups", "feedback", env=env).returncode == 0
    done = [r["outcome_id"] for r in csv_rows(home / "data" / "ml_feedback.csv")]
    assert sorted(done) == sorted(o.event_id for o in outcomes)
    listing = run_mlmon("dlq", "list", env=env).stdout
    assert letter_id.decode() in listing and "replayed as" in listing
    shown = json.loads(run_mlmon("dlq", "show", letter_id.decode(), env=env).stdout)
    assert shown["reason"].startswith("poison")
    # replayed as one new entry of the outcomes stream, the poison outcome itself
    [(replayed_id, replayed)] = client.xrange(
        outcomes_stream, min=shown["replayed_as"], max=shown["replayed_as"]
    )
    assert replayed_id.decode() == shown["replayed_as"] != letter_id.decode()
    assert replayed[b"event"] == letter[b"entry.event"]
    poison_entries = [
        entry_id
        for entry_id, fields in client.xrange(outcomes_stream)
        if json.loads(fields[b"event"])["ticker"] == "POISON.NS"
    ]
    assert len(poison_entries) == 2  # the original and one replay, not one per replay


def test_dlq_purge_removes_old_letters_only(
    client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    dead = f"{prefix}:stream:dead"
    old_ms = int((time.time() - 8 * 86_400) * 1000)
    client.xadd(dead, {"reason": "old"}, id=f"{old_ms}-0")
    client.xadd(dead, {"reason": "new"})
    result = run_mlmon("dlq", "purge", "--older-than", "7d", env=env)
    assert result.returncode == 0 and "purged 1 " in result.stdout
    assert [f[b"reason"] for _, f in client.xrange(dead)] == [b"new"]
    assert run_mlmon("dlq", "purge", "--older-than", "soon", env=env).returncode == 2


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (AOF, fsync always): stopped and started again, it
    keeps its port and its data."""
    server = RedisServer(tmp_path / "redis", args=AOF_ALWAYS).start()
    yield server
    server.stop()


def test_sdk_spools_while_redis_is_down_and_replays_in_order_once(
    private_redis: RedisServer, env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    env = {**env, "REDIS_URL": private_redis.url, "MLMON_SPOOL_DIR": str(tmp_path / "spool")}
    publisher = Publisher.from_url(
        private_redis.url,
        prefix=env["MLMON_PREFIX"],
        spool_dir=tmp_path / "spool",
        publish_timeout_s=0.2,
    )
    predictions = random_predictions(60, seed=4)
    assert publisher.publish_many(predictions[:10]) is not None
    private_redis.stop()
    for prediction in predictions[10:50]:
        started = time.monotonic()
        assert publisher.publish(prediction) is None  # spooled, no exception
        assert time.monotonic() - started < 1.0  # bounded by publish_timeout_s, not by Redis
    assert publisher.spool.has_entries()

    private_redis.start()
    flushed = run_mlmon("spool", "flush", env=env)
    assert flushed.returncode == 0, flushed.stderr
    assert "sent 40 spooled events" in flushed.stdout
    # until the retry time its last failure set, the publisher spools without trying Redis
    wait_until(lambda: time.monotonic() >= publisher._retry_at_s, what="the retry time")
    assert publisher.publish_many(predictions[50:]) is not None
    assert run_mlmon("spool", "flush", env=env).stdout.startswith("sent 0 ")

    client = redis.Redis.from_url(private_redis.url)
    stream = [
        json.loads(f[b"event"])["event_id"]
        for _, f in client.xrange(f"{env['MLMON_PREFIX']}:stream:predictions")
    ]
    assert stream == [p.event_id for p in predictions]  # in publish order
    assert run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=env).returncode == 0
    assert_exactly_once(home, env, predictions)


def test_spool_keeps_order_across_a_failed_replay_and_drops_oldest_when_full(
    tmp_path: Path,
) -> None:
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    small = Publisher.from_url(
        dead_url, prefix="p", spool_dir=tmp_path / "spool", publish_timeout_s=0.1
    )
    small.spool.max_bytes = 20 * 400  # about twenty events
    events = random_predictions(50, seed=9)
    for event in events:
        small.publish(event)
    kept = [
        json.loads(json.loads(line)["event"])["event_id"]
        for line in small.spool.path.read_text().splitlines()
    ]
    assert kept == [e.event_id for e in events][-len(kept) :]  # the newest, in order
    assert small.spool_dropped == len(events) - len(kept) > 0


def test_worker_resumes_after_redis_restarts_and_loses_nothing_redis_kept(
    private_redis: RedisServer, env: dict[str, str], home: Path
) -> None:
    env = {**env, "REDIS_URL": private_redis.url}
    publisher = Publisher.from_url(
        private_redis.url, prefix=env["MLMON_PREFIX"], on_failure="raise"
    )
    client = redis.Redis.from_url(private_redis.url)
    stream = f"{env['MLMON_PREFIX']}:stream:predictions"
    worker = start_worker(env, "--groups", "logs,metrics", "--consumer", "w")
    log = LineReader(worker.stderr)
    first = random_predictions(1_000, seed=5)
    publisher.publish_many(first)
    wait_until(lambda: drained(client, stream, ["logs", "metrics"]))

    private_redis.stop()
    # the worker sees the outage: it says so (once), then retries with back-off
    log.wait_for(logged("redis unavailable, retrying with back-off"), timeout_s=30)
    private_redis.start()
    second = random_predictions(1_000, seed=6)
    publisher = Publisher.from_url(
        private_redis.url, prefix=env["MLMON_PREFIX"], on_failure="raise"
    )
    publisher.publish_many(second)
    client = redis.Redis.from_url(private_redis.url)
    wait_until(lambda: drained(client, stream, ["logs", "metrics"]))
    stderr = stop(worker, log)

    assert_exactly_once(home, env, first + second)
    assert 1 <= stderr.count("redis unavailable") <= 2  # once per group and outage


def test_a_full_disk_keeps_entries_pending_until_they_can_be_written(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    def small_files() -> None:  # files of this process may not grow past 60 KB
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    predictions = random_predictions(2_000, seed=8)
    publisher.publish_many(predictions)
    worker = start_worker(
        {**env, "MLMON_BATCH_SIZE": "100", "MLMON_LOG_LEVEL": "DEBUG"},
        "--groups",
        "logs",
        preexec_fn=small_files,
    )
    log = LineReader(worker.stderr)
    stream = f"{prefix}:stream:predictions"
    wait_until(lambda: pending(client, stream, "logs") > 0 and logged_bytes(home) > 50_000)
    # a few retries: each one after the first failure is logged at debug level
    log.wait_for(logged("still failing", failures=lambda n: n >= 3), timeout_s=30)
    stderr = stop(worker, log)

    assert stderr.count("environment fault") == 1  # one clear error, not one per retry
    assert "File too large" in stderr
    assert pending(client, stream, "logs") > 0  # what could not be written is not acknowledged
    assert run_mlmon("worker", "--burst", "--groups", "logs", env=env).returncode == 0
    jsonl_paths, _ = log_files(home)
    assert sorted(i for p in jsonl_paths for i in jsonl_ids(p)) == sorted(
        p.event_id for p in predictions
    )


def logged_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "logs" / "ml_predictions").glob("*.jsonl"))


def test_health_exit_codes(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    env = {**env, "MLMON_HEARTBEAT_S": "1", "MLMON_HEALTH_MAX_LAG": "10"}
    assert run_mlmon("health", env=env).returncode == 1  # nothing runs yet
    # one process (--threads), so that the SIGSTOP below stops every group
    worker = start_worker(env, "--groups", "logs,metrics", "--consumer", "hb", "--threads")
    wait_until(lambda: run_mlmon("health", "--groups", "logs,metrics", env=env).returncode == 0, 30)
    missing = run_mlmon("health", env=env)
    assert missing.returncode == 1
    assert "group feedback: no live consumer (no heartbeat)" in missing.stdout

    worker.send_signal(signal.SIGSTOP)  # alive but not consuming: the group lags
    publisher.publish_many(random_predictions(50, seed=2))
    lagging = run_mlmon("health", "--groups", "logs,metrics", env=env)
    assert lagging.returncode == 1
    # a read blocked before SIGSTOP may still have been served the first entry
    assert re.search(r"group logs on \S+: lag (49|50) > 10 entries", lagging.stdout)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=10)
    keys = Keys(prefix)
    heartbeats = [keys.heartbeat(group, "hb") for group in ("logs", "metrics")]
    # the heartbeat keys outlive three beats, then expire
    wait_until(lambda: client.exists(*heartbeats) == 0, 30, what="the heartbeats' expiry")
    dead = run_mlmon("health", "--groups", "logs", env=env)
    assert dead.returncode == 1 and "group logs: no live consumer" in dead.stdout

    detailed = run_mlmon("status", "--detailed", env=env).stdout
    stream = keys.stream(StreamName.PREDICTIONS)
    rows = {line.split()[0]: line.split()[1:] for line in detailed.splitlines() if stream in line}
    for group in ("logs", "metrics"):
        # what the killed consumer was served and never acknowledged (0 or the first entry)
        in_flight = pending(client, stream, group)
        assert in_flight in {0, 1}, group
        stream_shown, live, pending_shown, _lag = rows[group]
        assert (stream_shown, live, pending_shown) == (stream, "0", str(in_flight)), group


def test_streams_are_trimmed_by_age_only_past_what_every_group_acknowledged(
    client: redis.Redis, settings: Settings, prefix: str, env: dict[str, str]
) -> None:
    stream = f"{prefix}:stream:predictions"
    ten_days_ago_ms = int((time.time() - 10 * 86_400) * 1000)
    for i, prediction in enumerate(random_predictions(5, seed=1)):
        client.xadd(stream, {"event": prediction.model_dump_json()}, id=f"{ten_days_ago_ms + i}-0")
    Publisher(client, prefix=prefix, on_failure="raise").publish_many(random_predictions(5, seed=2))
    readers = ["logs", "metrics", "feedback"]

    assert run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=env).returncode == 0
    assert (
        trim_stream(client, settings, StreamName.PREDICTIONS, readers) == 0
    )  # feedback not started
    client.xgroup_create(stream, "feedback", id="0")
    client.xreadgroup("feedback", "slow", {stream: ">"}, count=2)  # two old ones in flight
    assert trim_stream(client, settings, StreamName.PREDICTIONS, readers) == 0
    assert client.xlen(stream) == 10
    feedback = run_mlmon("worker", "--burst", "--groups", "feedback", "--consumer", "slow", env=env)
    assert feedback.returncode == 0

    # the burst worker's own upkeep trimmed the stream once every group had acknowledged
    assert client.xlen(stream) == 5
    assert trim_stream(client, settings, StreamName.PREDICTIONS, readers) == 0
    assert all(int(i.split(b"-")[0]) > ten_days_ago_ms + 10 for i, _ in client.xrange(stream))


def test_old_prediction_logs_are_gzipped_then_deleted(
    client: redis.Redis, env: dict[str, str], home: Path
) -> None:
    settings = load_settings(
        **{k: env[k] for k in ("REDIS_URL", "MLMON_PREFIX", "MLMON_HOME")},
        ML_LOG_COMPRESS_DAYS="2",
        ML_LOG_RETENTION_DAYS="5",
    )
    directory = settings.predictions_log_dir
    directory.mkdir(parents=True)
    today = date(2026, 3, 20)
    for days in (0, 2, 3, 6):
        day = (today - timedelta(days=days)).isoformat()
        (directory / f"predictions_{day}.jsonl").write_text('{"event_id": "x"}\n')
        client.hset(
            f"{settings.prefix}:files:committed", f"logs/ml_predictions/predictions_{day}.jsonl", 18
        )
    age_logs(settings, client, today=today)
    names = sorted(p.name for p in directory.iterdir())
    assert names == [
        "predictions_2026-03-17.jsonl.gz",
        "predictions_2026-03-18.jsonl",
        "predictions_2026-03-20.jsonl",
    ]
    committed = {k.decode() for k in client.hkeys(f"{settings.prefix}:files:committed")}
    assert committed == {
        "logs/ml_predictions/predictions_2026-03-18.jsonl",
        "logs/ml_predictions/predictions_2026-03-20.jsonl",
    }


def test_least_privilege_producer_publishes_but_cannot_read_or_delete_and_workers_run(
    private_redis: RedisServer, env: dict[str, str], home: Path
) -> None:
    prefix = env["MLMON_PREFIX"]
    admin = redis.Redis.from_url(private_redis.url)
    admin.execute_command(
        *acl_setuser_line("producer", "p-secret", producer_acl_rules(prefix)).split()
    )
    rq_prefix = os.environ["RQ_KEY_PREFIX"]  # where this process's rq keeps its keys
    rules = worker_acl_rules(prefix, rq_prefix)
    admin.execute_command(*acl_setuser_line("worker", "w-secret", rules).split())
    producer_url = f"redis://producer:p-secret@127.0.0.1:{private_redis.port}/0"
    producer = Publisher.from_url(producer_url, prefix=prefix, on_failure="raise")
    predictions = random_predictions(30, seed=3)
    assert producer.publish_many(predictions) is not None
    with pytest.raises(redis.exceptions.NoPermissionError):
        producer.redis.xrange(f"{prefix}:stream:predictions")
    with pytest.raises(redis.exceptions.NoPermissionError):
        producer.redis.delete(f"{prefix}:stream:predictions")

    worker_env = {**env, "REDIS_URL": f"redis://worker:w-secret@127.0.0.1:{private_redis.port}/0"}
    result = run_mlmon("worker", "--burst", env=worker_env)
    assert result.returncode == 0, result.stderr
    assert "w-secret" not in result.stderr
    assert_exactly_once(home, worker_env, predictions)
    worker_client = redis.Redis.from_url(worker_env["REDIS_URL"])
    worker_settings = load_settings(
        REDIS_URL=worker_env["REDIS_URL"],
        MLMON_PREFIX=prefix,
        MLMON_HOME=env["MLMON_HOME"],
        ML_RETRAIN_MIN_NEW_SAMPLES="0",
    )
    decision = request_retrain(worker_client, worker_settings, trigger="manual", reason="acl")
    assert decision.accepted and len(retraining_queue(worker_client, worker_settings)) == 1
    with pytest.raises(redis.exceptions.NoPermissionError):
        worker_client.flushall()


def make_tls_files(directory: Path) -> dict[str, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1, made with openssl."""
    files = {
        name: directory / f"{name}"
        for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "ext.cnf")
    }
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=mlmon-test-ca",
        "-keyout",
        str(files["ca.key"]),
        "-out",
        str(files["ca.crt"]),
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(files["server.key"]),
        "-out",
        str(files["server.csr"]),
    )
    files["ext.cnf"].write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(files["server.csr"]),
        "-CA",
        str(files["ca.crt"]),
        "-CAkey",
        str(files["ca.key"]),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(files["ext.cnf"]),
        "-out",
        str(files["server.crt"]),
    )
    return files


def test_tls_server_accepts_the_sdk_and_the_workers(
    tmp_path: Path, env: dict[str, str], home: Path
) -> None:
    files = make_tls_files(tmp_path)
    tls_port = free_port()
    # the plain port stays open only for the test's own SHUTDOWN (`stop`); every client
    # below uses the TLS port
    server = RedisServer(
        tmp_path / "tls-redis",
        args=[
            "--tls-port",
            str(tls_port),
            "--tls-cert-file",
            str(files["server.crt"]),
            "--tls-key-file",
            str(files["server.key"]),
            "--tls-ca-cert-file",
            str(files["ca.crt"]),
            "--tls-auth-clients",
            "no",
        ],
    )
    url = f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={files['ca.crt']}&ssl_cert_reqs=required"
    server.start(wait_url=url)
    try:
        predictions = random_predictions(20, seed=12)
        assert Publisher.from_url(url, prefix=env["MLMON_PREFIX"], on_failure="raise").publish_many(
            predictions
        )
        tls_env = {**env, "REDIS_URL": url}
        result = run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=tls_env)
        assert result.returncode == 0, result.stderr
        assert_exactly_once(home, tls_env, predictions)
        insecure = f"rediss://127.0.0.1:{tls_port}/0?ssl_cert_reqs=required"
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(insecure).ping()  # an unknown CA is refused
    finally:
        server.stop()


def test_passwords_are_masked_in_every_message(env: dict[str, str]) -> None:
    url = "redis://user:hunter2@127.0.0.1:1/0"
    for command in (["status"], ["worker", "--burst"], ["health"], ["dlq", "list"]):
        result = run_mlmon(*command, env={**env, "REDIS_URL": url})
        assert result.returncode == 1
        assert "hunter2" not in result.stdout + result.stderr
        assert "redis://user:***@127.0.0.1:1/0" in result.stderr
