"""Running `mlmon worker --burst` in subprocesses, and the checks that make a run count:
every event read, acknowledged and written exactly once. Also the key clean-up between runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis

from benchmarks.harness import MLMON, Bench, BenchmarkError
from producer_sdk import StreamName, stream_key
from worker.groups import GROUP_STREAMS, GROUPS
from worker.keys import Keys
from worker.redis_values import as_text

WORKER_TIMEOUT_S = 400.0
STARTUP_REPEATS = 3
LOGS_AND_METRICS = "logs,metrics"
EVERY_GROUP = ",".join(GROUPS)
PREDICTION_GROUPS = tuple(name for name in GROUPS if StreamName.PREDICTIONS in GROUP_STREAMS[name])


@dataclass
class WorkerRun:
    """Wall time from starting the first worker process to the exit of the last, and the
    CPU time (user + system) of the worker processes and every process they forked."""

    wall_s: float
    peak_rss_bytes: int
    cpu_s: float


def worker_env(bench: Bench, prefix: str, home: Path) -> dict[str, str]:
    """The environment of `mlmon` subprocesses: this run's Redis, key prefix and home."""
    return {
        **os.environ,
        "REDIS_URL": bench.url,
        "MLMON_PREFIX": prefix,
        "MLMON_HOME": str(home),
    }


def run_workers(bench: Bench, env: dict[str, str], groups: str, consumers: int) -> WorkerRun:
    """Start `consumers` burst workers at once; wait for all; fail on a non-zero exit."""
    logs = [bench.tmp / f"worker-{uuid.uuid4().hex[:8]}.log" for _ in range(consumers)]
    started = time.perf_counter()
    cpu_before_s = _children_cpu_s()
    processes = []
    for index, log_path in enumerate(logs):
        command = [str(MLMON), "worker", "--burst", "--groups", groups]
        command += ["--consumer", f"bench-{index}"]
        with log_path.open("wb") as stderr:
            processes.append(
                subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            )
    codes, peak_rss_bytes = _reap_all(processes, started + WORKER_TIMEOUT_S)
    wall_s = time.perf_counter() - started
    cpu_s = _children_cpu_s() - cpu_before_s
    for code, log_path in zip(codes, logs, strict=True):
        if code != 0:
            tail = log_path.read_text(errors="replace")[-2_000:]
            raise BenchmarkError(f"mlmon worker --groups {groups} exited {code}:\n{tail}")
    return WorkerRun(wall_s, peak_rss_bytes, cpu_s)


def _children_cpu_s() -> float:
    """CPU seconds of this process's reaped children, theirs included (`mlmon worker`
    reaps its group processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap_all(processes: list[subprocess.Popen[bytes]], deadline: float) -> tuple[list[int], int]:
    """Exit codes, and the largest peak RSS, of children polled every few milliseconds.

    The peak is VmHWM from /proc, read until exit: the rusage of a child (wait4,
    RUSAGE_CHILDREN) also counts the parent's pages it held between fork and exec, so it
    would report this benchmark's own size instead of the worker's.
    """
    codes: dict[int, int] = {}
    peak_rss_bytes = 0
    while len(codes) < len(processes):
        for process in processes:
            if process.pid in codes:
                continue
            peak_rss_bytes = max(peak_rss_bytes, _peak_rss_bytes(process.pid))
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = codes[pid] = os.waitstatus_to_exitcode(status)
            elif time.perf_counter() > deadline:
                process.kill()
        time.sleep(0.005)
    return [codes[process.pid] for process in processes], peak_rss_bytes


def _peak_rss_bytes(pid: int) -> int:
    """VmHWM of a running process and of its children, added: `mlmon worker` runs a
    process per group (0 once it has exited or on systems without /proc)."""
    total = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total += sum(_peak_rss_bytes(int(child)) for child in children)
    return total


def measure_startup_s() -> float:
    """Median wall time of `mlmon --help`: interpreter start and imports, no Redis."""
    times_s = []
    for _ in range(STARTUP_REPEATS):
        started = time.perf_counter()
        subprocess.run([str(MLMON), "--help"], capture_output=True, check=True)
        times_s.append(time.perf_counter() - started)
    return statistics.median(times_s)


# ---------------------------------------------------------------------------- checks


def check_logs(home: Path, expected: int) -> None:
    """Every event exactly once in the JSONL and in the CSV, or the run does not count."""
    directory = home / "logs" / "ml_predictions"  # with a folder per partition in it
    ids: set[str] = set()
    lines = 0
    for path in sorted(directory.glob("**/*.jsonl")):
        with path.open("rb") as log_file:
            for line in log_file:
                lines += 1
                ids.add(json.loads(line)["event_id"])
    csv_rows = 0
    for path in sorted(directory.glob("**/*.csv")):
        with path.open("rb") as csv_file:
            csv_rows += sum(1 for _ in csv_file) - 1
    if not lines == len(ids) == csv_rows == expected:
        raise BenchmarkError(
            f"log check failed: {expected:,} events published, JSONL has {lines:,} lines "
            f"({len(ids):,} distinct ids), CSV has {csv_rows:,} rows"
        )


def check_metrics(bench: Bench, prefix: str, expected: int) -> None:
    """The all-time `predictions` counter equals the events published, or it does not count."""
    counted = int(bench.client.hget(Keys(prefix).metrics_all, "predictions") or 0)
    if counted != expected:
        raise BenchmarkError(f"metrics check failed: {expected:,} published, {counted:,} counted")


def check_groups(bench: Bench, prefix: str, groups: str, expected: int) -> None:
    """Each group read every entry and acknowledged it, and nothing was dead-lettered
    (a dead-lettered event is cheap to "process", so it would inflate a rate)."""
    stream = stream_key(prefix, StreamName.PREDICTIONS)
    info = {as_text(g["name"]): g for g in bench.client.xinfo_groups(stream)}
    for group in (name for name in groups.split(",") if name in PREDICTION_GROUPS):
        read = info[group].get("entries-read", expected)
        if info[group]["pending"] or read != expected:
            raise BenchmarkError(
                f"group {group}: {info[group]['pending']} pending, {read} of {expected:,} read"
            )
    dead = bench.client.xlen(stream_key(prefix, StreamName.DEAD))
    if dead:
        raise BenchmarkError(f"{dead} entries were dead-lettered")


def check_run(bench: Bench, prefix: str, home: Path, groups: str, expected: int) -> None:
    """Every check that applies to the groups of a run."""
    check_groups(bench, prefix, groups, expected)
    if "logs" in groups.split(","):
        check_logs(home, expected)
    if "metrics" in groups.split(","):
        check_metrics(bench, prefix, expected)


# -------------------------------------------------------------------------- clean-up


def delete_matching(client: redis.Redis, pattern: str, *, keep_streams: bool = False) -> int:
    """UNLINK every key matching `pattern` (streams kept on request); returns the count."""
    batch: list[bytes] = []
    deleted = 0
    for key in client.scan_iter(match=pattern, count=10_000):
        if keep_streams and b":stream:" in key:
            continue
        batch.append(key)
        if len(batch) >= 1_000:
            deleted += client.unlink(*batch)
            batch.clear()
    if batch:
        deleted += client.unlink(*batch)
    return deleted


def reset_consumers(bench: Bench, prefix: str, home: Path) -> None:
    """Forget every group's progress and effects, keeping the published stream.

    Destroys the groups and deletes every non-stream key of the prefix (idempotency marks,
    metrics, committed file lengths, whatever a group keeps) and MLMON_HOME's files.
    """
    stream = stream_key(prefix, StreamName.PREDICTIONS)
    for group in PREDICTION_GROUPS:
        with contextlib.suppress(redis.ResponseError):
            bench.client.xgroup_destroy(stream, group)
    delete_matching(bench.client, f"{prefix}:*", keep_streams=True)
    shutil.rmtree(home, ignore_errors=True)


def forget_data_set(bench: Bench, prefix: str, home: Path) -> None:
    """Delete a section's keys (streams too) and its MLMON_HOME once it is measured."""
    delete_matching(bench.client, f"{prefix}:*")
    shutil.rmtree(home, ignore_errors=True)
