"""Section 6: bytes per prediction in the logs, Redis memory per event by key family, and
the worker's peak RSS."""

from __future__ import annotations

import gzip
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import redis

from benchmarks.feature_memory import bench_feature_memory
from benchmarks.harness import Bench, floor_verdict, mib
from benchmarks.traffic import FEATURE_NAMES, Traffic, publish_load
from benchmarks.worker_runs import EVERY_GROUP, check_run, forget_data_set, run_workers, worker_env
from producer_sdk import StreamName, stream_key

SECTION = 6
JSONL_FLOOR_BYTES = 400.0
SAMPLED_KEYS = 1_000


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
                SECTION,
                f"worker peak RSS (VmHWM), `{EVERY_GROUP}`, 1 consumer, {count:,} events",
                mib(run.peak_rss_bytes),
                value=run.peak_rss_bytes,
                unit="bytes",
            )
        forget_data_set(bench, prefix, home)
    bench_feature_memory(bench)


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
            SECTION,
            f"{suffix.upper()} bytes per prediction, {label} (gzip -6 in brackets)",
            f"{raw_bytes:,.0f} B ({gz_bytes:,.0f} B gzipped)",
            value=raw_bytes,
            unit="bytes",
            floor=f"<= {JSONL_FLOOR_BYTES:g} B" if floored else "",
            passed=floor_verdict(raw_bytes, JSONL_FLOOR_BYTES, at_most=True) if floored else None,
        )


def memory_rows(bench: Bench, prefix: str, count: int, groups: str) -> None:
    """Redis memory by key family (metrics, idempotency marks, ...), then the stream; rows
    of this section, also for the large load the status section builds."""
    bench.say(f"memory: measuring keys after {count:,} events")
    for name, family in key_families(bench.client, prefix).items():
        how = "exact" if family.exact else f"mean of {len(family.sample):,} sampled x count"
        bench.add(
            SECTION,
            f"Redis memory of `{name}:*` after {count:,} events through `{groups}` ({how})",
            f"{_size_text(family.total_bytes)} in {family.keys:,} keys "
            f"({family.mean_bytes:,.0f} B per key, {family.total_bytes / count:,.1f} B per event)",
            value=family.total_bytes,
            unit="bytes",
        )
    stream = stream_key(prefix, StreamName.PREDICTIONS)
    stream_bytes = int(bench.client.memory_usage(stream, samples=0) or 0)
    bench.add(
        SECTION,
        f"Redis memory of the predictions stream after {count:,} events (until MAXLEN trims)",
        f"{mib(stream_bytes)} ({stream_bytes / count:,.0f} B per entry)",
        value=stream_bytes,
        unit="bytes",
    )


def _size_text(size_bytes: float) -> str:
    """KiB for small key families, MiB for large ones."""
    return mib(size_bytes) if size_bytes >= 2**20 else f"{size_bytes / 1024:,.1f} KiB"


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
