"""The benchmark sections, run in order and reported; `benchmarks/run.py` is the command.

Everything measures the real thing: a real Redis, the real `mlmon` entry point in
subprocesses, and checks after every run that no event was lost or counted twice. Each
section is a module of its own; the pieces they share are in `benchmarks.harness`
(sizes, rows, measurement helpers), `benchmarks.traffic`, `benchmarks.worker_runs`,
`benchmarks.machine` and `benchmarks.report`.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis

from benchmarks.cli_commands import bench_cli
from benchmarks.cluster_cost import bench_cluster
from benchmarks.consumer_throughput import bench_consumers
from benchmarks.harness import FULL, MLMON, QUICK, Bench, BenchmarkError
from benchmarks.machine import CpuSample, environment_facts, load_note
from benchmarks.publish_latency import bench_publish
from benchmarks.redis_ceiling import bench_ceiling
from benchmarks.report import markdown_table, results_json
from benchmarks.retraining_time import bench_retraining
from benchmarks.rq_comparison import bench_rq
from benchmarks.soak import bench_soak
from benchmarks.status_latency import bench_status
from benchmarks.storage_memory import bench_storage
from benchmarks.worker_runs import delete_matching
from worker.local.redis_server import RedisServer, RedisServerError
from worker.settings import mask_url

SECTION_FUNCTIONS: dict[str, tuple[int, str, Callable[[Bench], None]]] = {
    "publish": (1, "SDK publish", bench_publish),
    "consumer": (2, "consumer throughput", bench_consumers),
    "rq": (3, "one RQ job per prediction", bench_rq),
    "ceiling": (4, "Redis ceiling", bench_ceiling),
    "status": (5, "status latency", bench_status),
    "storage": (6, "storage and memory", bench_storage),
    "retraining": (7, "retraining", bench_retraining),
    "cli": (8, "whole commands against a Python start-up anchor", bench_cli),
    "soak": (9, "soak at a live rate", bench_soak),
    "cluster": (10, "Redis CPU per event: one Redis and Redis Cluster partitions", bench_cluster),
}


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


@contextlib.contextmanager
def redis_for(given_url: str | None, tmp: Path) -> Iterator[tuple[str, int | None]]:
    """The Redis URL and, for a private server, its pid (to tell its CPU from others').

    The private server keeps no data on disk (no RDB, no AOF), so disk speed does not enter.
    """
    if given_url:
        yield given_url, None
        return
    server = RedisServer(tmp / "redis").start()
    try:
        yield server.url, server.pid
    finally:
        server.stop(save=False)


def measure(bench: Bench, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The environment facts and the failed sections of a run of `args.sections`; the keys
    of the run's prefix (and RQ's for it) are deleted afterwards."""
    bench.say(
        f"redis at {mask_url(bench.url)}, key prefix {bench.prefix}-*, home under {bench.tmp}"
    )
    facts = environment_facts(bench.client, bench.url, private=not args.redis_url)
    facts["code_measured"] = args.code_measured
    try:
        failures = run_sections(bench, args.sections)
    finally:
        delete_matching(bench.client, f"{bench.prefix}-*")
        delete_matching(bench.client, f"rq:*{bench.prefix}-*")
        bench.client.close()
    return facts, failures


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
        try:
            with redis_for(args.redis_url, tmp) as (url, redis_pid):
                client = redis.Redis.from_url(url)
                prefix = f"bench{uuid.uuid4().hex[:8]}"
                bench = Bench(url, client, prefix, tmp, sizes, redis_pid=redis_pid)
                facts, failures = measure(bench, args)
        except RedisServerError as e:
            print(f"{e} (or pass --redis-url)", file=sys.stderr)
            return 2
    elapsed_s = time.perf_counter() - bench.started_s
    table = markdown_table(bench.rows)
    note = load_note(bench.other_cpu_s, elapsed_s)
    print(table + "\n\n" + note)
    bench.say(
        f"done in {elapsed_s:.0f} s" + (f"; FAILED: {', '.join(failures)}" if failures else "")
    )
    if args.output is not None:
        text = results_json(
            args,
            facts=facts,
            sizes=sizes,
            elapsed_s=elapsed_s,
            other_cpu_s=bench.other_cpu_s,
            rows=bench.rows,
            markdown=table + "\n\n" + note,
        )
        args.output.write_text(text, encoding="utf-8")
        bench.say(f"wrote {args.output}")
    return 1 if failures else 0
