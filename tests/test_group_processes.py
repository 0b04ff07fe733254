"""`mlmon worker` runs a process per group by default, `--threads` one process; the
processes stop together: on SIGTERM, and when one of them dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import redis
from helpers import MLMON, wait_until

from worker.consumer.topology import known_names
from worker.keys import Keys


def heartbeat_pids(client: redis.Redis, prefix: str) -> dict[str, int]:
    keys = Keys(prefix)
    pids = {}
    for group in known_names():
        beat = client.get(keys.heartbeat(group, "c1"))
        if beat is not None:
            pids[group] = json.loads(beat)["pid"]
    return pids


def start(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MLMON, "worker", "--consumer", "c1", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_each_group_runs_in_its_own_process_and_all_stop_on_sigterm(
    client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    worker = start(env)
    wait_until(lambda: len(heartbeat_pids(client, prefix)) == len(known_names()), 30)
    pids = heartbeat_pids(client, prefix)

    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)

    assert worker.returncode == 0, stderr
    assert len(set(pids.values())) == len(known_names())
    assert worker.pid not in pids.values()
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists(), f"group process {pid} outlived the worker"


def test_threads_keep_every_group_in_one_process(
    client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    worker = start(env, "--threads")
    wait_until(lambda: len(heartbeat_pids(client, prefix)) == len(known_names()), 30)

    assert set(heartbeat_pids(client, prefix).values()) == {worker.pid}
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr


def test_a_group_process_that_dies_stops_the_worker(
    client: redis.Redis, prefix: str, env: dict[str, str]
) -> None:
    worker = start(env)
    wait_until(lambda: len(heartbeat_pids(client, prefix)) == len(known_names()), 30)
    pids = heartbeat_pids(client, prefix)

    os.kill(pids["metrics"], signal.SIGKILL)

    worker.communicate(timeout=30)
    assert worker.returncode != 0
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists(), f"group process {pid} outlived the worker"
