"""Environment faults never dead-letter a valid event: a read-only `MLMON_HOME` and a full
disk keep entries pending, reported by `mlmon health`, until the fault clears."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from pathlib import Path

import pytest
import redis
from helpers import LineReader, assert_exactly_once, random_predictions, run_mlmon, wait_until
from test_reliability import drained, logged, pending, start_worker, stop

from producer_sdk import Publisher
from worker.alerts.conditions import conditions_of
from worker.levels import Severity

pytestmark = pytest.mark.slow
PR_CAPBSET_DROP = 24
# the capabilities that let root write where file modes say it may not
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3


def file_modes_bind_root() -> None:
    """In the child, before exec: drop root's power to ignore file modes, so that a
    read-only folder is read-only to it too (tests may run as root)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_read_only_home_keeps_every_event_pending_until_it_is_writable(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    home.mkdir(parents=True)
    home.chmod(0o555)
    env = {**env, "ML_MAX_DELIVERIES": "1", "MLMON_LOG_LEVEL": "DEBUG", "MLMON_HEARTBEAT_S": "1"}
    predictions = random_predictions(200, seed=15)
    publisher.publish_many(predictions)
    stream = f"{prefix}:stream:predictions"
    worker = start_worker(env, "--groups", "logs,metrics", preexec_fn=file_modes_bind_root)
    log = LineReader(worker.stderr)
    # many retries, far past ML_MAX_DELIVERIES: none of them counts
    log.wait_for(logged("still failing", failures=lambda n: n >= 4), timeout_s=60)

    health = run_mlmon("health", "--groups", "logs,metrics", env=env)
    assert health.returncode == 1
    assert "group logs consumer" in health.stdout and "environment fault since" in health.stdout
    assert "Permission denied" in health.stdout
    shown = run_mlmon("status", env=env).stdout
    assert "ENVIRONMENT FAULT: group logs consumer" in shown and "Permission denied" in shown
    assert client.xlen(f"{prefix}:stream:dead") == 0
    assert pending(client, stream, "logs") == 200

    home.chmod(0o755)  # the operator fixes the permissions
    wait_until(lambda: drained(client, stream, ["logs", "metrics"]))
    wait_until(lambda: run_mlmon("health", "--groups", "logs,metrics", env=env).returncode == 0, 30)
    stderr = stop(worker, log)

    assert stderr.count("environment fault: the batch stays pending") == 1
    assert client.xlen(f"{prefix}:stream:dead") == 0
    assert client.hlen(f"{prefix}:faults") == 0
    assert_exactly_once(home, env, predictions)


def test_a_full_disk_in_a_burst_never_dead_letters(
    publisher: Publisher, client: redis.Redis, prefix: str, env: dict[str, str], home: Path
) -> None:
    def small_files() -> None:  # files of this process may not grow past 20 KB
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = {**env, "ML_MAX_DELIVERIES": "1", "MLMON_BATCH_SIZE": "50"}
    predictions = random_predictions(300, seed=16)
    publisher.publish_many(predictions)
    for _ in range(4):  # each burst fails on the full disk; nothing is given up on
        full = start_worker(env, "--burst", "--groups", "logs,metrics", preexec_fn=small_files)
        _, stderr = full.communicate(timeout=60)
        assert full.returncode == 1
        assert "File too large" in stderr
    assert client.xlen(f"{prefix}:stream:dead") == 0

    result = run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=env)

    assert result.returncode == 0, result.stderr
    assert client.xlen(f"{prefix}:stream:dead") == 0
    assert_exactly_once(home, env, predictions)


def test_an_environment_fault_is_a_critical_alert_condition() -> None:
    fault = {"group": "logs", "consumer": "a", "error": "[Errno 28] No space left on device"}
    status = {"consumer_groups": [], "environment_faults": [fault], "dead_letters": 0}
    [condition] = [c for c in conditions_of(status, last_dead_letters=0, max_lag=10) if c.active]
    assert condition.name == "fault:logs" and condition.severity is Severity.CRITICAL
    assert "No space left on device" in condition.summary
    cleared = {**status, "environment_faults": []}
    assert not any(c.active for c in conditions_of(cleared, last_dead_letters=0, max_lag=10))
