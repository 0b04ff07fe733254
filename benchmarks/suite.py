"""The benchmark sections and their reporting; `benchmarks/run.py` is the command.

Everything here measures the real thing: a real Redis, the real `mlmon` entry point in
subprocesses, and checks after every run that no event was lost or counted twice.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib
import importlib.util
import json
import math
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from producer_sdk import (
    Outcome,
    Prediction,
    Publisher,
    StreamName,
    TradeOutcome,
    Verdict,
    VerdictSource,
    stream_key,
)
from worker.groups import GROUPS
from worker.keys import Keys
from worker.settings import load_settings
from worker.status import build_status

ROOT = Path(__file__).resolve().parent.parent
MLMON = Path(sys.executable).with_name("mlmon")
RQ_JOB = "benchmarks.rq_jobs.record_prediction"

PUBLISH_P99_FLOOR_MS = 1.0
PUBLISH_MANY_FLOOR_PER_S = 100_000.0
ALL_GROUPS_FLOOR_PER_S = 20_000.0
RQ_MULTIPLE_FLOOR = 100.0
STATUS_FLOOR_MS = 300.0
JSONL_FLOOR_BYTES = 400.0

WORKER_TIMEOUT_S = 400.0
REDIS_START_TIMEOUT_S = 10.0
STARTUP_REPEATS = 3
SAMPLED_KEYS = 1_000

TICKERS = (
    "RELIANCE.NS TCS.NS HDFCBANK.NS INFY.NS ICICIBANK.NS SBIN.NS BHARTIARTL.NS ITC.NS "
    "BAJAJ-AUTO.NS M&M.NS TATAMOTORS.NS LT.NS AXISBANK.NS MARUTI.NS SUNPHARMA.NS "
    "RELIANCE.BO TCS.BO SBIN.BO INFY.BO HDFCBANK.BO"
).split()
FEATURE_NAMES = (
    "rsi_14",
    "macd_hist",
    "pe_ratio",
    "pb_ratio",
    "momentum_20d_pct",
    "volatility_30d",
    "volume_ratio_5d",
    "dist_52w_high_pct",
    "beta_1y",
    "sector_rel_strength",
)
VERDICTS = tuple(v.value for v in Verdict)
RULE_MIX = (0.15, 0.30, 0.35, 0.20)
LOGS_AND_METRICS = "logs,metrics"
EVERY_GROUP = ",".join(GROUPS)
PREDICTION_GROUPS = tuple(
    name
    for name, handler in GROUPS.items()
    if StreamName.PREDICTIONS in getattr(handler, "streams", ())
)
MODEL_VERSION = "lgbm-2025.01.15-v3"


class BenchmarkError(Exception):
    """A measurement cannot be trusted: a worker failed, or lost or duplicated events."""


@dataclass(frozen=True)
class Sizes:
    """How much work each section does; `--quick` uses a smaller set."""

    publish_warmup: int = 2_000
    publish_calls: int = 20_000
    publish_many_events: int = 100_000
    consumer_events: int = 100_000
    rq_simple_jobs: int = 5_000
    rq_fork_jobs: int = 500
    ceiling_requests: int = 200_000
    status_small_events: int = 10
    status_big_events: int = 1_000_000
    status_repeats_in_process: int = 21
    status_repeats_cli: int = 5
    storage_events: int = 10_000


FULL = Sizes()
QUICK = Sizes(
    publish_warmup=200,
    publish_calls=2_000,
    publish_many_events=10_000,
    consumer_events=10_000,
    rq_simple_jobs=500,
    rq_fork_jobs=50,
    ceiling_requests=20_000,
    status_big_events=100_000,
    status_repeats_in_process=7,
    status_repeats_cli=3,
    storage_events=2_000,
)


@dataclass
class Row:
    """One line of the results table; `value` and `unit` keep the raw number for JSON."""

    section: int
    measurement: str
    result: str
    value: float | None = None
    unit: str = ""
    floor: str = ""
    passed: bool | None = None


@dataclass
class Bench:
    """What every section shares: the server, the key prefix, the scratch folder, results."""

    url: str
    client: redis.Redis
    prefix: str
    tmp: Path
    sizes: Sizes
    redis_pid: int | None = None
    started_s: float = field(default_factory=time.perf_counter)
    other_cpu_s: dict[str, float] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)

    def sub(self, name: str) -> str:
        """A key prefix of its own per data set, so sections never see each other's keys."""
        return f"{self.prefix}-{name}"

    def say(self, message: str) -> None:
        """Progress on stderr, so stdout holds only the table."""
        elapsed_s = time.perf_counter() - self.started_s
        print(f"[{elapsed_s:7.1f} s] {message}", file=sys.stderr, flush=True)

    def add(self, section: int, measurement: str, result: str, **extra: Any) -> None:
        self.rows.append(Row(section, measurement, result, **extra))


@dataclass
class WorkerRun:
    """Wall time from starting the first worker process to the exit of the last."""

    wall_s: float
    peak_rss_bytes: int


# ---------------------------------------------------------------------------- traffic


class Traffic:
    """Realistic predictions, cheap to build in bulk.

    Drawing random fields costs more than validating a model, so the fields come from a
    pool drawn once; each event still goes through the `Prediction` constructor (full
    validation) with its own event_id and a timestamp rising through `spread`, as a live
    stream would carry them.
    """

    def __init__(
        self,
        *,
        seed: int,
        feature_share: float,
        spread: timedelta = timedelta(minutes=30),
        pool_size: int = 2_000,
    ) -> None:
        rng = random.Random(seed)
        self.pool = [_draw_fields(rng, feature_share) for _ in range(pool_size)]
        self.end = datetime.now(UTC)
        self.spread = spread

    def fields(self, index: int, count: int) -> dict[str, Any]:
        """Keyword arguments of event `index` of `count`, as `log_prediction` takes them."""
        ts = self.end - self.spread * (1 - index / max(count, 1))
        return {**self.pool[index % len(self.pool)], "ts": ts}

    def predictions(
        self, count: int, *, offset: int = 0, total: int | None = None
    ) -> list[Prediction]:
        total = total or count
        return [Prediction(**self.fields(offset + i, total)) for i in range(count)]


def _draw_fields(rng: random.Random, feature_share: float) -> dict[str, Any]:
    """One prediction's fields: ML runs on most stocks and agrees with rules 2 times in 3."""
    rule = rng.choices(VERDICTS, weights=RULE_MIX)[0]
    fields: dict[str, Any] = {"ticker": rng.choice(TICKERS), "rule_verdict": rule}
    final, source = rule, VerdictSource.RULE.value
    if rng.random() < 0.92:
        ml = rule if rng.random() < 0.66 else rng.choice(VERDICTS)
        confidence = round(min(0.99, max(0.35, rng.betavariate(8, 2.2))), 4)
        if confidence >= 0.62:
            final, source = ml, VerdictSource.ML.value
        fields |= {"ml_verdict": ml, "ml_confidence": confidence, "model_version": MODEL_VERSION}
    fields |= {"final_verdict": final, "verdict_source": source}
    if rng.random() < feature_share:
        fields["features"] = {name: round(rng.uniform(-50, 150), 4) for name in FEATURE_NAMES}
    return fields


def publish_load(
    bench: Bench, prefix: str, count: int, traffic: Traffic, *, chunk: int = 1_000
) -> float:
    """Publish `count` predictions with publish_many; returns the seconds it took.

    No MAXLEN here: approximate trimming must not drop entries the workers have to see.
    """
    publisher = Publisher(bench.client, prefix=prefix, stream_maxlen=None)
    report_every = max(count // 5, chunk)
    started = time.perf_counter()
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        publisher.publish_many(traffic.predictions(size, offset=start, total=count))
        if count >= 100_000 and (start + size) % report_every == 0:
            bench.say(f"  published {start + size:,} of {count:,}")
    return time.perf_counter() - started


# --------------------------------------------------------------------- redis helpers


def free_port() -> int:
    """A loopback port free now, for the private redis-server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def private_redis(data_dir: Path) -> Iterator[tuple[str, int]]:
    """A throwaway redis-server without persistence, so disk speed does not enter."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchmarkError("redis-server is not on the PATH; install it or pass --redis-url")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(data_dir), "--logfile", "redis.log"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_ping(url, process)
        yield url, process.pid
    finally:
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(url).shutdown(nosave=True)
        try:
            process.wait(timeout=REDIS_START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_ping(url: str, process: subprocess.Popen[bytes]) -> None:
    """Block until the new server answers, so no section times a server still starting."""
    deadline = time.monotonic() + REDIS_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError("redis-server exited at start")
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise BenchmarkError("redis-server did not answer PING in time")


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


@dataclass
class KeyFamily:
    """Keys sharing the segment after the prefix (`metrics`, `dedup`, ...) and their memory."""

    keys: int = 0
    sample: list[bytes] = field(default_factory=list)
    mean_bytes: float = 0.0

    @property
    def exact(self) -> bool:
        return self.keys == len(self.sample)

    @property
    def total_bytes(self) -> float:
        return self.keys * self.mean_bytes


def key_families(client: redis.Redis, prefix: str) -> dict[str, KeyFamily]:
    """Memory of every non-stream key of `prefix`, by family: MEMORY USAGE (all samples)
    of every key when a family has at most SAMPLED_KEYS, else of the first SAMPLED_KEYS
    found, times the count."""
    families: dict[str, KeyFamily] = {}
    start = len(prefix) + 1
    for key in client.scan_iter(match=f"{prefix}:*", count=10_000):
        name = key[start:].split(b":", 1)[0].decode()
        if name == "stream":
            continue
        family = families.setdefault(name, KeyFamily())
        family.keys += 1
        if len(family.sample) < SAMPLED_KEYS:
            family.sample.append(key)
    for family in families.values():
        pipe = client.pipeline(transaction=False)
        for key in family.sample:
            pipe.memory_usage(key, samples=0)
        family.mean_bytes = statistics.fmean(int(size or 0) for size in pipe.execute())
    return dict(sorted(families.items()))


@dataclass(frozen=True)
class CpuSample:
    """Busy CPU seconds of the whole machine and of this benchmark (itself, its reaped
    children, its private redis-server), so their difference is other processes' load."""

    machine_s: float
    ours_s: float

    @classmethod
    def take(cls, redis_pid: int | None) -> CpuSample:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours_s = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        return cls(_machine_busy_s(), ours_s + _process_cpu_s(redis_pid))

    def others_since(self, earlier: CpuSample) -> float:
        return max(0.0, (self.machine_s - earlier.machine_s) - (self.ours_s - earlier.ours_s))


def _machine_busy_s() -> float:
    """Non-idle CPU seconds since boot, summed over CPUs (0 without /proc)."""
    with contextlib.suppress(OSError):
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _process_cpu_s(pid: int | None) -> float:
    """utime + stime of a running process (0 when unknown)."""
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


# ------------------------------------------------------------------------- workers


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
    for code, log_path in zip(codes, logs, strict=True):
        if code != 0:
            tail = log_path.read_text(errors="replace")[-2_000:]
            raise BenchmarkError(f"mlmon worker --groups {groups} exited {code}:\n{tail}")
    return WorkerRun(wall_s, peak_rss_bytes)


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
    """VmHWM of a running process (0 once it has exited or on systems without /proc)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def measure_startup_s() -> float:
    """Median wall time of `mlmon --help`: interpreter start and imports, no Redis."""
    times_s = []
    for _ in range(STARTUP_REPEATS):
        started = time.perf_counter()
        subprocess.run([str(MLMON), "--help"], capture_output=True, check=True)
        times_s.append(time.perf_counter() - started)
    return statistics.median(times_s)


def check_logs(home: Path, expected: int) -> None:
    """Every event exactly once in the JSONL and in the CSV, or the run does not count."""
    directory = home / "logs" / "ml_predictions"
    ids: set[str] = set()
    lines = 0
    for path in sorted(directory.glob("*.jsonl")):
        with path.open("rb") as log_file:
            for line in log_file:
                lines += 1
                ids.add(json.loads(line)["event_id"])
    csv_rows = 0
    for path in sorted(directory.glob("*.csv")):
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
    info = {_text(g["name"]): g for g in bench.client.xinfo_groups(stream)}
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


def _text(value: str | bytes) -> str:
    """redis-py returns bytes unless asked otherwise; names are compared as text."""
    return value.decode() if isinstance(value, bytes) else value


# -------------------------------------------------------------------------- helpers


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of `samples` (which it does not sort in place)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def time_each(call: Callable[[Any], object], items: Sequence[Any]) -> list[float]:
    """Milliseconds of each call, timed one by one."""
    times_ms = []
    for item in items:
        started = time.perf_counter_ns()
        call(item)
        times_ms.append((time.perf_counter_ns() - started) / 1e6)
    return times_ms


def median_ms(call: Callable[[], object], repeats: int) -> float:
    """Median of `repeats` timed calls, so one slow outlier (GC, a context switch) is ignored."""
    times_ms = time_each(lambda _: call(), range(repeats))
    return statistics.median(times_ms)


def floor_verdict(value: float | None, floor: float, *, at_most: bool) -> bool | None:
    """Pass (True) or miss (False) against a floor; None when the value was not measured."""
    if value is None:
        return None
    return value <= floor if at_most else value >= floor


def rate_text(per_s: float) -> str:
    """A rate as the table shows it: thousands separated, no decimals."""
    return f"{per_s:,.0f} /s"


def mib(size_bytes: float) -> str:
    """A size in MiB with one decimal, the unit RSS and stream sizes read best in."""
    return f"{size_bytes / 2**20:,.1f} MiB"


# -------------------------------------------------------------------- 1. publishing


def bench_publish(bench: Bench) -> None:
    """Latency of one publish() over loopback, and publish_many() throughput."""
    sizes = bench.sizes
    prefix = bench.sub("pub")
    publisher = Publisher.from_url(bench.url, prefix=prefix)
    traffic = Traffic(seed=1, feature_share=0.3)
    total = sizes.publish_warmup + sizes.publish_calls
    events = traffic.predictions(total)
    bench.say(f"publish: {sizes.publish_warmup:,} warm-up, then {sizes.publish_calls:,} timed")
    for event in events[: sizes.publish_warmup]:
        publisher.publish(event)
    latencies_ms = time_each(publisher.publish, events[sizes.publish_warmup :])
    _latency_rows(bench, "`publish()` of a pre-built prediction", latencies_ms, with_floor=True)

    fields = [traffic.fields(i, total) for i in range(sizes.publish_calls)]
    bench.say(f"publish: {sizes.publish_calls:,} log_prediction() calls (model built per call)")
    latencies_ms = time_each(lambda kwargs: publisher.log_prediction(**kwargs), fields)
    _latency_rows(bench, "`log_prediction()` (builds the model, then publishes)", latencies_ms)

    for batch in (100, 1_000):
        bench.client.unlink(stream_key(prefix, StreamName.PREDICTIONS))
        count = sizes.publish_many_events
        events = traffic.predictions(count)
        bench.say(f"publish: publish_many of {count:,} events in batches of {batch:,}")
        started = time.perf_counter()
        for start in range(0, count, batch):
            publisher.publish_many(events[start : start + batch])
        per_s = count / (time.perf_counter() - started)
        bench.add(
            1,
            f"`publish_many()` throughput, batches of {batch:,} ({count:,} events)",
            rate_text(per_s),
            value=per_s,
            unit="events/s",
            floor=f">= {PUBLISH_MANY_FLOOR_PER_S:,.0f} /s",
            passed=floor_verdict(per_s, PUBLISH_MANY_FLOOR_PER_S, at_most=False),
        )
    delete_matching(bench.client, f"{prefix}:*")
    publisher.redis.close()


def _latency_rows(
    bench: Bench, what: str, latencies_ms: list[float], *, with_floor: bool = False
) -> None:
    """p50 for the typical call; p99 and p99.9 for what trading code has to budget for."""
    p50_ms, p99_ms, p999_ms = (percentile(latencies_ms, q) for q in (0.5, 0.99, 0.999))
    bench.add(
        1,
        f"{what}: p50 / p99 / p99.9 ({len(latencies_ms):,} calls)",
        f"{p50_ms:.3f} / {p99_ms:.3f} / {p999_ms:.3f} ms",
        value=p99_ms,
        unit="ms (p99)",
        floor=f"p99 <= {PUBLISH_P99_FLOOR_MS:g} ms" if with_floor else "",
        passed=floor_verdict(p99_ms, PUBLISH_P99_FLOOR_MS, at_most=True) if with_floor else None,
    )


# ----------------------------------------------------------------- 2. consumer groups


def bench_consumers(bench: Bench) -> None:
    """Predictions per second through `mlmon worker --burst`, per group and together."""
    count = bench.sizes.consumer_events
    prefix, home = bench.sub("cons"), bench.tmp / "home-cons"
    startup_s = measure_startup_s()
    bench.facts["startup_s"] = startup_s
    bench.add(
        2,
        f"`mlmon --help` start-up (median of {STARTUP_REPEATS}), subtracted below",
        f"{startup_s * 1000:,.0f} ms",
        value=startup_s * 1000,
        unit="ms",
    )
    bench.say(f"consumer: publishing {count:,} predictions")
    publish_load(bench, prefix, count, Traffic(seed=2, feature_share=0.3))
    env = worker_env(bench, prefix, home)
    for groups in consumer_runs():
        for consumers in (1,) if groups == EVERY_GROUP else (1, 2):
            reset_consumers(bench, prefix, home)
            bench.say(f"consumer: --groups {groups}, {consumers} consumer(s), {count:,} events")
            run = run_workers(bench, env, groups, consumers)
            check_run(bench, prefix, home, groups, count)
            _consumer_row(bench, groups, consumers, count, run)
    delete_matching(bench.client, f"{prefix}:*")
    shutil.rmtree(home, ignore_errors=True)


def consumer_runs() -> list[str]:
    """Each group that reads predictions alone, `logs,metrics` (the work the RQ job of
    section 3 mirrors), and every registered group, which `mlmon worker` runs by default
    (with one consumer only: its run is the longest, and the budget is 10 minutes)."""
    runs = [*PREDICTION_GROUPS, LOGS_AND_METRICS, EVERY_GROUP]
    return list(dict.fromkeys(runs))


def _consumer_row(bench: Bench, groups: str, consumers: int, count: int, run: WorkerRun) -> None:
    """Wall-clock rate (the floor applies to it) and the rate excluding start-up."""
    per_s = count / run.wall_s
    steady_per_s = count / max(run.wall_s - bench.facts["startup_s"], 1e-9)
    bench.say(f"  {run.wall_s:.2f} s: {per_s:,.0f} /s, {steady_per_s:,.0f} /s excluding start-up")
    if groups == LOGS_AND_METRICS and consumers == 1:
        bench.facts["all_groups_per_s"] = per_s
        bench.facts["all_groups_steady_per_s"] = steady_per_s
    floored = consumers == 1 and groups in (LOGS_AND_METRICS, EVERY_GROUP)
    label = {LOGS_AND_METRICS: " (all groups, as briefed)", EVERY_GROUP: " (every group)"}
    bench.add(
        2,
        f"`{groups}`{label.get(groups, '')}, {consumers} consumer"
        f"{'s' if consumers > 1 else ''} per group ({count:,} events)",
        f"{rate_text(per_s)} ({run.wall_s:.2f} s wall); {rate_text(steady_per_s)} excluding "
        f"start-up; peak RSS {mib(run.peak_rss_bytes)}",
        value=per_s,
        unit="predictions/s",
        floor=f">= {ALL_GROUPS_FLOOR_PER_S:,.0f} /s" if floored else "",
        passed=floor_verdict(per_s, ALL_GROUPS_FLOOR_PER_S, at_most=False) if floored else None,
    )


# ------------------------------------------------------------------ 3. one RQ job each


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
            3,
            f"RQ {label}, one job per prediction ({count:,} jobs)",
            rate_text(per_s),
            value=per_s,
            unit="predictions/s",
        )
        multiple = None if ours_per_s is None else ours_per_s / per_s
        bench.add(
            3,
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


# ---------------------------------------------------------------------- 4. ceiling


def realistic_event_json() -> str:
    """A prediction as the workers receive it, without features."""
    return Prediction(
        ticker="BAJAJ-AUTO.NS",
        ml_verdict="strong_buy",
        ml_confidence=0.8731,
        rule_verdict="buy",
        final_verdict="strong_buy",
        verdict_source="ml",
        model_version="v3",
    ).model_dump_json()


def bench_ceiling(bench: Bench) -> None:
    """redis-benchmark XADD on the same server: what Redis itself can take."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        bench.add(4, "redis-benchmark XADD", "redis-benchmark not on the PATH")
        return
    key = f"{bench.sub('ceil')}:stream"
    payload = realistic_event_json()
    ours_per_s = bench.facts.get("all_groups_steady_per_s")
    for label, extra in (("unpipelined", []), ("pipelined -P 64", ["-P", "64"])):
        requests = bench.sizes.ceiling_requests
        bench.say(f"ceiling: redis-benchmark XADD, 50 clients, {label}, {requests:,} requests")
        command = [binary, "-u", bench.url, "-n", str(requests), "-c", "50", *extra, "--csv"]
        output = subprocess.run(
            [*command, "XADD", key, "*", "event", payload],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        bench.client.unlink(key)
        per_s = _benchmark_rps(output)
        bench.add(
            4,
            f"redis-benchmark XADD of a {len(payload)}-byte event, 50 clients, {label}",
            rate_text(per_s),
            value=per_s,
            unit="XADD/s",
        )
        share = None if ours_per_s is None else ours_per_s / per_s
        bench.add(
            4,
            f"mlmon all groups, 1 consumer (excl. start-up), as a share of XADD {label}",
            "n/a (run the consumer section)" if share is None else f"{share:.1%}",
            value=share,
            unit="fraction",
        )


def _benchmark_rps(csv_output: str) -> float:
    """The rps column of redis-benchmark --csv; the test name may hold unescaped quotes."""
    last = csv_output.strip().splitlines()[-1]
    columns = last.rsplit(",", 7)
    return float(columns[1].strip('"'))


# ----------------------------------------------------------------------- 5. status


def bench_status(bench: Bench) -> None:
    """`mlmon status --json` with a few events behind it and with very many."""
    for count in (bench.sizes.status_small_events, bench.sizes.status_big_events):
        prefix, home = bench.sub(f"st{count}"), bench.tmp / f"home-st{count}"
        bench.say(f"status: publishing {count:,} predictions")
        traffic = Traffic(seed=4, feature_share=0.3, spread=timedelta(minutes=55))
        publish_s = publish_load(bench, prefix, count, traffic)
        consumers = 1 if count < 100_000 else 2
        bench.say(f"status: draining with {consumers} `metrics` consumer(s)")
        run = run_workers(bench, worker_env(bench, prefix, home), "metrics", consumers)
        check_run(bench, prefix, home, "metrics", count)
        if count >= 100_000:
            _big_load_rows(bench, count, publish_s, consumers, run)
            memory_rows(bench, prefix, count, "metrics")
        _status_rows(bench, prefix, home, count)
        delete_matching(bench.client, f"{prefix}:*")
        shutil.rmtree(home, ignore_errors=True)


def _big_load_rows(
    bench: Bench, count: int, publish_s: float, consumers: int, run: WorkerRun
) -> None:
    """What building the large load cost: itself a publish and a consumer measurement."""
    bench.say(f"  drained in {run.wall_s:.1f} s")
    bench.add(
        5,
        f"set-up: `publish_many()` of {count:,} (batches of 1,000, models built)",
        f"{publish_s:.1f} s ({rate_text(count / publish_s)})",
        value=count / publish_s,
        unit="events/s",
    )
    bench.add(
        5,
        f"set-up: `metrics` group alone, {consumers} consumers, draining {count:,}",
        f"{run.wall_s:.1f} s ({rate_text(count / run.wall_s)}); peak RSS {mib(run.peak_rss_bytes)}",
        value=count / run.wall_s,
        unit="predictions/s",
    )


def _status_rows(bench: Bench, prefix: str, home: Path, count: int) -> None:
    """Status in process (Redis reads and summing) and as the command a user types (plus
    interpreter start and imports); both first checked to show every event."""
    settings = load_settings(REDIS_URL=bench.url, MLMON_PREFIX=prefix, MLMON_HOME=str(home))
    env = worker_env(bench, prefix, home)
    command = [str(MLMON), "status", "--json"]
    for shown in (
        build_status(bench.client, settings)["total_predictions"],
        json.loads(subprocess.run(command, env=env, capture_output=True, check=True).stdout)[
            "total_predictions"
        ],
    ):
        if shown != count:
            raise BenchmarkError(f"status shows {shown:,} predictions, not {count:,}")
    repeats = bench.sizes.status_repeats_in_process
    in_process_ms = median_ms(lambda: build_status(bench.client, settings), repeats)
    cli_ms = median_ms(
        lambda: subprocess.run(command, env=env, capture_output=True, check=True),
        bench.sizes.status_repeats_cli,
    )
    big = count >= 100_000
    for what, value_ms, repeated in (
        ("in process, `build_status()`", in_process_ms, repeats),
        ("whole CLI command `mlmon status --json`", cli_ms, bench.sizes.status_repeats_cli),
    ):
        bench.add(
            5,
            f"status with {count:,} events: {what} (median of {repeated})",
            f"{value_ms:,.1f} ms",
            value=value_ms,
            unit="ms",
            floor=f"<= {STATUS_FLOOR_MS:g} ms" if big else "",
            passed=floor_verdict(value_ms, STATUS_FLOOR_MS, at_most=True) if big else None,
        )


# ------------------------------------------------------------------ 6. storage, memory


def bench_storage(bench: Bench) -> None:
    """Log bytes per prediction, with and without features, and Redis memory per event."""
    count = bench.sizes.storage_events
    for label, share in (("without features", 0.0), (f"with {len(FEATURE_NAMES)} features", 1.0)):
        prefix, home = bench.sub(f"sto{int(share)}"), bench.tmp / f"home-sto{int(share)}"
        bench.say(f"storage: {count:,} predictions {label}, every group")
        publish_load(bench, prefix, count, Traffic(seed=5, feature_share=share))
        run = run_workers(bench, worker_env(bench, prefix, home), EVERY_GROUP, 1)
        check_run(bench, prefix, home, EVERY_GROUP, count)
        _log_size_rows(bench, home, count, label, check_floor=share == 0.0)
        if share == 0.0:
            memory_rows(bench, prefix, count, EVERY_GROUP)
            bench.add(
                6,
                f"worker peak RSS (VmHWM), `{EVERY_GROUP}`, 1 consumer, {count:,} events",
                mib(run.peak_rss_bytes),
                value=run.peak_rss_bytes,
                unit="bytes",
            )
        delete_matching(bench.client, f"{prefix}:*")
        shutil.rmtree(home, ignore_errors=True)


def _log_size_rows(bench: Bench, home: Path, count: int, label: str, *, check_floor: bool) -> None:
    """Bytes per prediction as the worker wrote them (CSV headers left out), and gzipped,
    since old logs are kept compressed."""
    directory = home / "logs" / "ml_predictions"
    for suffix in ("jsonl", "csv"):
        data = b"".join(path.read_bytes() for path in sorted(directory.glob(f"*.{suffix}")))
        headers = len(list(directory.glob(f"*.{suffix}"))) if suffix == "csv" else 0
        first_line = data.split(b"\n", 1)[0] + b"\n" if headers else b""
        raw_bytes = (len(data) - headers * len(first_line)) / count
        gz_bytes = len(gzip.compress(data, compresslevel=6)) / count
        floored = check_floor and suffix == "jsonl"
        bench.add(
            6,
            f"{suffix.upper()} bytes per prediction, {label} (gzip -6 in brackets)",
            f"{raw_bytes:,.0f} B ({gz_bytes:,.0f} B gzipped)",
            value=raw_bytes,
            unit="bytes",
            floor=f"<= {JSONL_FLOOR_BYTES:g} B" if floored else "",
            passed=floor_verdict(raw_bytes, JSONL_FLOOR_BYTES, at_most=True) if floored else None,
        )


def memory_rows(bench: Bench, prefix: str, count: int, groups: str) -> None:
    """Redis memory by key family (metrics, idempotency marks, ...), then the stream."""
    bench.say(f"memory: measuring keys after {count:,} events")
    for name, family in key_families(bench.client, prefix).items():
        how = "exact" if family.exact else f"mean of {len(family.sample):,} sampled x count"
        bench.add(
            6,
            f"Redis memory of `{name}:*` after {count:,} events through `{groups}` ({how})",
            f"{_size_text(family.total_bytes)} in {family.keys:,} keys "
            f"({family.mean_bytes:,.0f} B per key, {family.total_bytes / count:,.1f} B per event)",
            value=family.total_bytes,
            unit="bytes",
        )
    stream = stream_key(prefix, StreamName.PREDICTIONS)
    stream_bytes = int(bench.client.memory_usage(stream, samples=0) or 0)
    bench.add(
        6,
        f"Redis memory of the predictions stream after {count:,} events (until MAXLEN trims)",
        f"{mib(stream_bytes)} ({stream_bytes / count:,.0f} B per entry)",
        value=stream_bytes,
        unit="bytes",
    )


def _size_text(size_bytes: float) -> str:
    """KiB for small key families, MiB for large ones."""
    return mib(size_bytes) if size_bytes >= 2**20 else f"{size_bytes / 1024:,.1f} KiB"


# ------------------------------------------------------------------- 7. retraining


def bench_retraining(bench: Bench) -> None:
    """Wall time of one retraining run, once `worker.retraining` exists.

    Goes the documented way: the feedback group writes the training CSV from predictions
    and their outcomes, `worker.retraining.gate.request_retrain(..., force=True)` enqueues
    the job, and `mlmon rq-worker --burst` runs it (train, evaluate, register, promote).
    """
    request_retrain, missing = _retraining_api()
    if request_retrain is None:
        bench.add(7, "retraining wall time", f"not available yet ({missing})")
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
        7,
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
        gate = importlib.import_module("worker.retraining.gate")
    except ImportError as e:
        return None, f"`worker.retraining.gate` does not import: {e}"
    request_retrain = getattr(gate, "request_retrain", None)
    if request_retrain is None:
        return None, "`worker.retraining.gate` has no `request_retrain`"
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
    publisher = Publisher(bench.client, prefix=prefix, stream_maxlen=None)
    for start in range(0, count, 1_000):
        publisher.publish_many(predictions[start : start + 1_000])
        publisher.publish_many(outcomes[start : start + 1_000])
    run_workers(bench, worker_env(bench, prefix, home), "feedback", 1)
    settings = load_settings(REDIS_URL=bench.url, MLMON_PREFIX=prefix, MLMON_HOME=str(home))
    path: Path = settings.training_csv
    if not path.exists():
        raise BenchmarkError(f"the feedback group wrote no {path.name}")
    return path


# ---------------------------------------------------------------------- reporting


SECTION_FUNCTIONS: dict[str, tuple[int, str, Callable[[Bench], None]]] = {
    "publish": (1, "SDK publish", bench_publish),
    "consumer": (2, "consumer throughput", bench_consumers),
    "rq": (3, "one RQ job per prediction", bench_rq),
    "ceiling": (4, "Redis ceiling", bench_ceiling),
    "status": (5, "status latency", bench_status),
    "storage": (6, "storage and memory", bench_storage),
    "retraining": (7, "retraining", bench_retraining),
}


def markdown_table(rows: list[Row]) -> str:
    """Rows grouped by section; a floor's verdict in the last column."""
    lines = ["| # | measurement | result | floor | verdict |", "|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: r.section):
        verdict = {True: "pass", False: "**miss**", None: ""}[row.passed]
        cells = (str(row.section), row.measurement, row.result, row.floor, verdict)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def environment_facts(client: redis.Redis, url: str, private: bool) -> dict[str, Any]:
    """What the numbers depend on: the machine and the versions (the code: see run.py)."""
    server: dict[str, Any] = client.info("server")
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "redis_version": server.get("redis_version"),
        "redis": "private redis-server, no persistence" if private else _masked(url),
    }


def _cpu_model() -> str:
    """The CPU the numbers were measured on, for comparing results across machines."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _masked(url: str) -> str:
    """The Redis URL without its password, for output and results.json."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urlunsplit(parts._replace(netloc=netloc))


# --------------------------------------------------------------------------- main


def run_sections(bench: Bench, sections: list[str]) -> list[str]:
    """Run each section; a failing one is reported and the others still run."""
    failures = []
    for name in sections:
        number, title, function = SECTION_FUNCTIONS[name]
        bench.say(f"== {number}. {title}")
        before = CpuSample.take(bench.redis_pid)
        try:
            function(bench)
        except (BenchmarkError, redis.RedisError, subprocess.SubprocessError, OSError) as e:
            bench.say(f"section {name} FAILED: {e}")
            bench.add(number, f"{title}: FAILED", str(e).splitlines()[0])
            failures.append(name)
        other_s = CpuSample.take(bench.redis_pid).others_since(before)
        bench.other_cpu_s[name] = round(other_s, 1)
        bench.say(f"  other processes on this machine used {other_s:.1f} CPU-s meanwhile")
    return failures


def load_note(bench: Bench, elapsed_s: float) -> str:
    """A line under the table: how busy the rest of the machine was, which skews numbers."""
    other_s = sum(bench.other_cpu_s.values())
    capacity_s = elapsed_s * (os.cpu_count() or 1)
    busiest = max(bench.other_cpu_s.items(), key=lambda item: item[1], default=("", 0.0))
    note = (
        f"Other processes on this machine used {other_s:.0f} CPU-seconds during the run "
        f"({other_s / max(capacity_s, 1e-9):.0%} of {os.cpu_count()} CPUs over {elapsed_s:.0f} s)"
    )
    if busiest[1] > 0:
        note += f"; most during `{busiest[0]}` ({busiest[1]:.0f} CPU-s)"
    return note + "."


@contextlib.contextmanager
def redis_for(given_url: str | None, tmp: Path) -> Iterator[tuple[str, int | None]]:
    """The Redis URL and, for a private server, its pid (to tell its CPU from others')."""
    if given_url:
        yield given_url, None
        return
    data_dir = tmp / "redis"
    data_dir.mkdir()
    with private_redis(data_dir) as (url, pid):
        yield url, pid


def run(args: argparse.Namespace) -> int:
    """Run `args.sections` (in that order); print the table; write `args.output` if set."""
    unknown = sorted(set(args.sections) - set(SECTION_FUNCTIONS))
    if unknown:
        print(f"unknown section(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if not MLMON.exists():
        print(f"run this with the project's virtualenv: {MLMON} not found", file=sys.stderr)
        return 2
    sizes = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="mlmon-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with redis_for(args.redis_url, tmp) as (url, redis_pid):
            client = redis.Redis.from_url(url)
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            bench = Bench(url, client, prefix, tmp, sizes, redis_pid=redis_pid)
            bench.say(f"redis at {_masked(url)}, key prefix {bench.prefix}-*, home under {tmp}")
            facts = environment_facts(client, url, private=not args.redis_url)
            facts["code_measured"] = args.code_measured
            try:
                failures = run_sections(bench, args.sections)
            finally:
                delete_matching(client, f"{bench.prefix}-*")
                delete_matching(client, f"rq:*{bench.prefix}-*")
                client.close()
    elapsed_s = time.perf_counter() - bench.started_s
    table = markdown_table(bench.rows)
    note = load_note(bench, elapsed_s)
    print(table + "\n\n" + note)
    bench.say(
        f"done in {elapsed_s:.0f} s" + (f"; FAILED: {', '.join(failures)}" if failures else "")
    )
    if args.output is not None:
        results = {
            "environment": facts,
            "run": {
                "quick": args.quick,
                "sections": args.sections,
                "elapsed_s": round(elapsed_s, 1),
            },
            "sizes": asdict(sizes),
            "other_processes_cpu_s": bench.other_cpu_s,
            "rows": [asdict(row) for row in sorted(bench.rows, key=lambda r: r.section)],
            "markdown": table + "\n\n" + note,
        }
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        bench.say(f"wrote {args.output}")
    return 1 if failures else 0
