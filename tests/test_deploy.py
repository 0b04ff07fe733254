"""Deployment: the compose file and the Dockerfile, `mlmon up` with real children, the
embedded Redis, and one clear line for every bad setting."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from helpers import MLMON, LineReader, random_predictions, run_mlmon, wait_until
from redis.crc import key_slot
from rq import Worker

from producer_sdk import Publisher
from producer_sdk.streams import StreamName
from worker.groups import GROUP_STREAMS
from worker.keys import Keys
from worker.local.embedded_redis import redis_for_local_use
from worker.local.redis_server import free_port
from worker.local.supervisor import RestartPolicy
from worker.settings import FIELD_OF_ENV, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
MLMON_SERVICES = ["worker", "rq-retraining", "rq-alerts"]
CONSUMER_SERVICES = ["worker"]
ENV_FIELDS = FIELD_OF_ENV
# Values that differ from the Settings defaults on purpose: the container's Redis and folder.
CONTAINER_VALUES = {
    "REDIS_URL": "redis://redis:6379/0",
    "MLMON_HOME": "/app",
    "RQ_KEY_PREFIX": "mlmon:rq",  # for the plain `rq worker` commands; `mlmon` sets it itself
}
STATUS_LINE = re.compile(r"^mlmon up: (\S+)\s+pid=(\S+)\s+(\S+)\s+restarts=(\d+)(.*)$")


class StatusReader(LineReader):
    """A supervisor's stderr, with its `mlmon up: <child> pid=... <state> restarts=...`
    status lines parsed."""

    def statuses(self) -> list[tuple[str, str, str, int, str]]:
        """(name, pid, state, restarts, detail) of every status line so far."""
        found = []
        for line in list(self.lines):
            match = STATUS_LINE.match(line)
            if match:
                name, pid, state, restarts, detail = match.groups()
                found.append((name, pid, state, int(restarts), detail.strip()))
        return found

    def latest(self, name: str) -> tuple[str, str, int]:
        """(pid, state, restarts) of the last status line of one child; state "none"
        before the first."""
        mine = [s for s in self.statuses() if s[0] == name]
        if not mine:
            return "-", "none", 0
        _, pid, state, restarts, _ = mine[-1]
        return pid, state, restarts


# -- mlmon up ----------------------------------------------------------------------------


def heartbeat_pid(client: redis.Redis, prefix: str, group: str, consumer: str) -> int | None:
    beat = client.get(f"{prefix}:heartbeat:{group}:{consumer}")
    return int(json.loads(beat)["pid"]) if beat else None


def healthy(env: dict[str, str]) -> bool:
    return run_mlmon("health", env=env).returncode == 0


@pytest.mark.slow
def test_up_starts_everything_restarts_a_killed_child_and_stops_gracefully(
    env: dict[str, str], client: redis.Redis, prefix: str, publisher: Publisher
) -> None:
    consumer = f"up-{prefix}"
    env = {**env, "MLMON_CONSUMER": consumer, "MLMON_HEARTBEAT_S": "1"}
    grace_s = 20.0
    up = subprocess.Popen(
        [MLMON, "up", "--grace-s", str(grace_s)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = StatusReader(up.stderr)
    try:
        wait_until(lambda: healthy(env))
        names = ["worker-logs", "worker-metrics", "worker-feedback", "worker-retrain"]
        names += ["rq-retraining", "rq-alerts"]
        wait_until(lambda: all(reader.latest(n)[1] == "running" for n in names), 30)
        pids = {name: int(reader.latest(name)[0]) for name in names}
        assert heartbeat_pid(client, prefix, "logs", consumer) == pids["worker-logs"]

        os.kill(pids["worker-logs"], signal.SIGKILL)
        wait_until(lambda: reader.latest("worker-logs")[1:] == ("running", 1))
        new_pid = int(reader.latest("worker-logs")[0])
        assert new_pid != pids["worker-logs"]
        wait_until(lambda: heartbeat_pid(client, prefix, "logs", consumer) == new_pid)
        wait_until(lambda: healthy(env))
        assert any("exited with signal SIGKILL" in s[4] for s in reader.statuses())

        predictions = random_predictions(3_000, seed=5)
        publisher.publish_many(predictions)
        wait_until(lambda: int(client.hget(f"{prefix}:metrics:all", "predictions") or 0) > 0)
        stop_started_s = time.monotonic()
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=grace_s + 10) == 0, reader.lines[-30:]
        assert time.monotonic() - stop_started_s < grace_s
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        reader.join()

    for name in names:
        assert reader.latest(name)[1] == "stopped", name
    assert not any(state == "killed" for _, _, state, _, _ in reader.statuses())
    for pid in {int(pid) for _, pid, _, _, _ in reader.statuses() if pid != "-"}:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    keys = Keys(prefix)
    for group, streams in GROUP_STREAMS.items():
        assert client.exists(keys.heartbeat(group, consumer)) == 0, group
        for stream in streams:
            pending = client.xpending(keys.stream(stream), group)["pending"]
            assert pending == 0, f"{group} left {pending} pending on {stream.value}"


def test_up_never_starts_a_redis_when_redis_url_is_set(env: dict[str, str], home: Path) -> None:
    unreachable = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    result = run_mlmon("up", env={**env, "REDIS_URL": unreachable})
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("mlmon: cannot reach Redis at redis://:***@127.0.0.1:")
    assert not (home / "data" / "redis").exists()


def supervise(script: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """A supervisor of `python -c <script>` children, as its own process."""
    code = (
        "import sys\n"
        "from worker.local.supervisor import ChildSpec, RestartPolicy, Supervisor\n"
        f"spec = ChildSpec('child', (sys.executable, '-c', {script!r}))\n"
        "policy = RestartPolicy(initial_backoff_s=0.2, max_backoff_s=0.8)\n"
        "say = lambda line: print('mlmon up: ' + line, file=sys.stderr, flush=True)\n"
        "sys.exit(Supervisor([spec], env=dict(__import__('os').environ), grace_s=1.0,"
        " say=say, policy=policy).run())\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_crashing_child_is_restarted_with_a_doubling_capped_backoff(
    env: dict[str, str],
) -> None:
    supervisor = supervise("import sys; sys.exit(3)", env)
    reader = StatusReader(supervisor.stderr)
    wait_until(lambda: reader.latest("child")[2] >= 5, 30)
    supervisor.send_signal(signal.SIGTERM)
    # 0 when the stop found the child waiting to restart, 1 when it caught it running
    # (it then exits with 3 again)
    assert supervisor.wait(timeout=10) in {0, 1}
    reader.join()
    delays = [
        float(re.findall(r"restart in ([\d.]+) s", detail)[0])
        for _, _, state, _, detail in reader.statuses()
        if state == "backoff"
    ]
    assert delays[:5] == [0.2, 0.4, 0.8, 0.8, 0.8]
    assert all("exited with code 3" in d for _, _, s, _, d in reader.statuses() if s == "backoff")
    assert reader.latest("child")[1] == "stopped"


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(
    env: dict[str, str],
) -> None:
    stubborn = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', file=sys.stderr, flush=True)\n"
        "time.sleep(120)\n"
    )
    supervisor = supervise(stubborn, env)
    reader = StatusReader(supervisor.stderr)
    wait_until(lambda: "ready" in reader.lines, 30)
    pid = int(reader.latest("child")[0])
    started_s = time.monotonic()
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=15) == 1
    reader.join()
    assert 1.0 <= time.monotonic() - started_s < 10
    assert reader.latest("child")[1] == "killed"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_restart_policy_doubles_and_caps() -> None:
    policy = RestartPolicy(initial_backoff_s=0.5, max_backoff_s=30.0)
    assert [policy.backoff_s(n) for n in range(1, 10)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0
    ]  # fmt: skip


# -- the embedded Redis ------------------------------------------------------------------


def test_without_redis_url_and_nothing_at_the_default_a_redis_is_started_and_stopped(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = load_settings(MLMON_HOME=str(home))
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    said: list[str] = []
    with redis_for_local_use(settings, say=said.append, default_url=nothing_there) as url:
        assert url != nothing_there
        server = redis.Redis.from_url(url)
        assert server.ping()
        assert server.config_get("appendonly")["appendonly"] == "yes"
        assert Path(server.config_get("dir")["dir"]) == (home / "data" / "redis").resolve()
        server.close()
    assert len(said) == 1 and "started redis-server" in said[0], said
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()


def test_with_redis_url_set_no_redis_is_started(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", nothing_there)
    settings = load_settings(MLMON_HOME=str(home))
    said: list[str] = []
    with redis_for_local_use(settings, say=said.append, default_url=nothing_there) as url:
        assert url == nothing_there
    assert said == []
    assert not (home / "data" / "redis").exists()


def test_an_answering_default_address_is_used_as_it_is(
    monkeypatch: pytest.MonkeyPatch, home: Path, redis_url: str
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = load_settings(MLMON_HOME=str(home))
    with redis_for_local_use(settings, say=pytest.fail, default_url=redis_url) as url:
        assert url == redis_url
    assert not (home / "data" / "redis").exists()


# -- settings ----------------------------------------------------------------------------

A_FILE = str(ROOT / "pyproject.toml")  # a path that exists and is no folder
BAD_VALUES = {
    "REDIS_URL": "http://user:s3cret@localhost:6379",
    "MLMON_PREFIX": "{mlmon",
    "MLMON_PARTITIONS": "0",
    "MLMON_RQ_REDIS_URL": "redis+cluster://user:s3cret@127.0.0.1:7000",
    "MLMON_HOME": A_FILE,
    "MLMON_TIMEZONE": "Mars/Olympus",
    "MLMON_STREAM_MAXLEN": "10",
    "MLMON_BATCH_SIZE": "0",
    "MLMON_BLOCK_MS": "-1",
    "MLMON_DEDUP_TTL_HOURS": "-1",
    "ML_MAX_DELIVERIES": "0",
    "MLMON_MAX_CLOCK_SKEW_S": "-1",
    "RQ_KEY_PREFIX": "has spaces",
    "MLMON_CLAIM_IDLE_MS": "5",
    "MLMON_HEARTBEAT_S": "0",
    "MLMON_HEALTH_MAX_LAG": "-1",
    "MLMON_RECENT_PREDICTIONS": "100000",
    "MLMON_LOG_LEVEL": "LOUD",
    "ML_STREAM_RETENTION_DAYS": "0",
    "ML_LOG_COMPRESS_DAYS": "-3",
    "ML_LOG_RETENTION_DAYS": "forever",
    "MLMON_RETENTION_CHECK_MINUTES": "0",
    "MLMON_SPOOL_DIR": A_FILE,
    "MLMON_SPOOL_MAX_MB": "inf",
    "ML_FEEDBACK_JOIN_DAYS": "0",
    "ML_LABEL_RULE": "not a rule",
    "ML_STRONG_BUY_PNL": "-5",
    "ML_RETRAINING_INTERVAL_HOURS": "-1",
    "ML_RETRAIN_MIN_NEW_SAMPLES": "-1",
    "ML_RETRAIN_ANALYSIS_MIN_STOCKS": "many",
    "ML_RETRAIN_MAX_PER_DAY": "0",
    "ML_RETRAIN_JOB_TIMEOUT_S": "5",
    "ML_RETRAIN_CHECK_MINUTES": "nan",
    "ML_AUTO_BACKUP": "maybe",
    "ML_BACKUP_KEEP": "0",
    "ML_PROMOTION_TOLERANCE": "2",
    "ML_TRAINER": "sklearn",
    "ML_TRAIN_THREADS": "0",
    "ML_MODEL_NAME": "../model",
    "ML_DRIFT_CONFIDENCE_THRESHOLD": "1.5",
    "ML_DRIFT_AGREEMENT_THRESHOLD": "0",
    "ML_DRIFT_USAGE_THRESHOLD": "-0.1",
    "ML_DRIFT_MIN_SAMPLES": "0",
    "ML_DRIFT_WINDOW": "2h",
    "ML_BASELINE_SAMPLES": "0",
    "ML_FEATURES_MONITORED": "257",
    "ML_CALIBRATION_ERROR_THRESHOLD": "0",
    "ML_PH_DELTA": "-1",
    "ML_PH_LAMBDA": "0",
    "ML_TARGET_ML_USAGE": "80",
    "ML_TARGET_AGREEMENT": "-0.6",
    "ML_TARGET_AVG_CONFIDENCE": "1.75",
    "ML_RETRAIN_ON_DRIFT": "sometimes",
    "ML_ALERT_FOR": "5 minutes",
    "ML_ALERT_REPEAT": "-4h",
    "ML_ALERT_CHECK_S": "0",
    "ML_ALERT_RETRIES": "soon",
    "ML_ALERT_LAG": "-1",
    "ML_ALERT_WEBHOOK_URL": "ftp://example.com/hook",
    "ML_ALERT_WEBHOOK_SECRET": "x" * 600,
    "ML_ALERT_SLACK_WEBHOOK_URL": "not a url",
    "ML_ALERT_TELEGRAM_TOKEN": "x" * 600,
    "ML_ALERT_TELEGRAM_CHAT_ID": "x" * 600,
    "ML_ALERT_TELEGRAM_API_BASE": "api.telegram.org",
    "ML_ALERT_SMTP_HOST": "x" * 600,
    "ML_ALERT_SMTP_PORT": "70000",
    "ML_ALERT_SMTP_USER": "x" * 600,
    "ML_ALERT_SMTP_PASSWORD": "x" * 600,
    "ML_ALERT_SMTP_STARTTLS": "perhaps",
    "ML_ALERT_EMAIL_FROM": "nobody",
    "ML_ALERT_EMAIL_TO": "nobody",
    "ML_MARKET_HOURS": "9-5",
    "ML_MARKET_DAYS": "fri-mon",
    "ML_MARKET_HOLIDAYS": "soon",
    "MLMON_DASHBOARD_TOKEN": "short",
    "MLMON_DASHBOARD_HOSTS": "evil.example/path",
}
EXPECTED_MESSAGES = {
    "ML_PROMOTION_TOLERANCE": "must be a number <= 1.0 (allowed: 0 <= value <= 1)",
    "MLMON_DEDUP_TTL_HOURS": "must be a number > 0.0 (allowed: 0 < value <= 8760)",
    "ML_ALERT_WEBHOOK_SECRET": "ML_ALERT_WEBHOOK_SECRET='***' is invalid",
    "ML_AUTO_BACKUP": "must be true or false",
    "MLMON_BLOCK_MS": "(allowed: 1 <= value <= 60000)",
    "MLMON_HOME": "must be a folder",
    "REDIS_URL": "'http://user:***@localhost:6379' is invalid",
    "MLMON_RQ_REDIS_URL": "RQ cannot run on a Redis Cluster",
}


@pytest.mark.parametrize("name", sorted(ENV_FIELDS))
def test_every_bad_setting_stops_with_one_line_naming_it(name: str) -> None:
    """In process (what the CLI prints is this message); one subprocess check follows."""
    assert name in BAD_VALUES, f"give {name} a bad value in BAD_VALUES"
    with pytest.raises(SettingsError) as caught:
        load_settings(**{name: BAD_VALUES[name]})
    [line] = str(caught.value).splitlines()
    assert line.startswith(f"{name}=") and " is invalid: " in line, line
    assert EXPECTED_MESSAGES.get(name, "") in line
    assert "s3cret" not in line


def test_a_bad_setting_stops_the_command_with_one_line_and_exit_2(env: dict[str, str]) -> None:
    result = run_mlmon("config", env={**env, "ML_PROMOTION_TOLERANCE": "2"})
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("mlmon: ML_PROMOTION_TOLERANCE='2' is invalid: ")


def test_config_prints_every_setting_with_the_password_masked(env: dict[str, str]) -> None:
    env = {**env, "REDIS_URL": "redis://:s3cret@127.0.0.1:6379/0", "ML_AUTO_BACKUP": "no"}
    text = run_mlmon("config", env=env)
    assert text.returncode == 0, text.stderr
    lines = dict(line.split("=", 1) for line in text.stdout.splitlines())
    assert set(lines) == set(ENV_FIELDS)
    assert lines["REDIS_URL"] == "redis://:***@127.0.0.1:6379/0"
    assert lines["ML_AUTO_BACKUP"] == "false"
    assert lines["MLMON_PREFIX"] == env["MLMON_PREFIX"]
    as_json = run_mlmon("config", "--json", env=env)
    view = json.loads(as_json.stdout)
    assert list(view) == list(lines)
    assert view["MLMON_BLOCK_MS"] == 100 and view["ML_AUTO_BACKUP"] is False
    assert view["ML_LOG_COMPRESS_DAYS"] is None
    assert "s3cret" not in text.stdout + as_json.stdout


# RQ lays out its own keys (`rq:job:<id>`, `rq:queue:<name>`...) outside the prefix, by
# design: `rq worker` and `rq info` must find them. These builders make RQ's keys or name
# RQ's queues, so no hash tag in the prefix can place them; every other builder must.
NOT_UNDER_THE_PREFIX = {"rq_job", "rq_queues", "retraining_queue", "alerts_queue"}
KEYS_OF_KEYS = {"of", "partitions_of", "partition", "shared", "for_stream"}  # build no key
# sample arguments, by parameter type: every value where there are few (each stream, with
# and without the optional group)
SAMPLE_ARGUMENTS: dict[object, list[object]] = {
    str: ["sample"],
    str | None: ["logs", None],
    StreamName: list(StreamName),
    datetime: [datetime(2026, 3, 9, 18, 29, 59, tzinfo=UTC)],
    int: [1_773_080_999],
    int | None: [None, 3],
}


def every_key(keys: Keys) -> list[str]:
    """Every key `Keys` builds, found by introspection so that no builder can be missed:
    each property read, each method called with every combination of sample arguments."""
    fields = {field.name for field in dataclasses.fields(Keys)}
    built: list[str] = []
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_") or name in fields | NOT_UNDER_THE_PREFIX | KEYS_OF_KEYS:
            continue
        if isinstance(member, property):
            built.append(getattr(keys, name))
            continue
        assert callable(member), f"Keys.{name} is neither a property nor a method"
        parameters = inspect.signature(getattr(keys, name), eval_str=True).parameters.values()
        samples = []
        for parameter in parameters:
            assert parameter.annotation in SAMPLE_ARGUMENTS, (
                f"Keys.{name}({parameter.name}: {parameter.annotation}): add samples of this type"
            )
            samples.append(SAMPLE_ARGUMENTS[parameter.annotation])
        built += [getattr(keys, name)(*args) for args in itertools.product(*samples)]
    assert all(isinstance(key, str) for key in built), built
    return built


def test_a_hash_tag_prefix_puts_every_key_on_one_cluster_slot(env: dict[str, str]) -> None:
    result = run_mlmon("config", "--json", env={**env, "MLMON_PREFIX": "{mlmon}"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["MLMON_PREFIX"] == "{mlmon}"
    tagged = every_key(Keys("{mlmon}"))
    assert {key_slot(key.encode()) for key in tagged} == {key_slot(b"mlmon")}
    assert len({key_slot(key.encode()) for key in every_key(Keys("mlmon"))}) > 1
    # what is left out is RQ's, outside the prefix
    assert set(dir(Keys)) >= NOT_UNDER_THE_PREFIX
    assert Keys.rq_job("{mlmon}:rq", "j1") == "{mlmon}:rq:job:j1"  # RQ's layout, its prefix
    assert all(not q.startswith("{mlmon}:") for q in Keys("{mlmon}").rq_queues.values())


def test_a_partitions_keys_share_its_slot_and_the_shared_keys_the_control_slot() -> None:
    settings = load_settings(MLMON_PARTITIONS="4")
    parts = Keys.partitions_of(settings)
    assert [keys.prefix for keys in parts] == [f"{{mlmon-p{i}}}" for i in range(4)]
    control = Keys.of(settings)
    assert control.prefix == control.control == "{mlmon}"
    shared = set(every_key(control))
    for index, keys in enumerate(parts):
        slots = {key_slot(key.encode()) for key in every_key(keys) if key not in shared}
        assert slots == {key_slot(f"mlmon-p{index}".encode())}
        assert keys.retrain_state == control.retrain_state  # the gate is one for all
        assert Keys.of(settings.for_partition(index)) == keys
    assert {key_slot(key.encode()) for key in shared} == {key_slot(b"mlmon")}
    assert Keys.partitions_of(load_settings()) == [Keys("mlmon")]  # today's layout
    odd = load_settings(MLMON_PREFIX="{a-p1}")  # one partition: keys as before, whatever
    assert Keys.of(odd).retrain_state == "{a-p1}:retrain:state"
    assert odd.predictions_log_dir == odd.home / "logs" / "ml_predictions"


def test_rq_support_preloads_what_the_jobs_import() -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, worker.retraining.rq_support; "
            "print('sklearn' in sys.modules, 'worker.retraining.job' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == ["True", "True"]
    assert issubclass(importlib.import_module("worker.retraining.rq_support").PreloadWorker, Worker)
