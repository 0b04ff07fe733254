"""Section 9: Redis CPU per event on one Redis and on each master of a 3-master Redis
Cluster with 3 partitions, for the groups on the prediction stream (logs, metrics,
feedback), and what N shards give on paper.

Redis CPU is the server process's own (`INFO cpu`: used_cpu_user + used_cpu_sys, main
thread and all) over a burst run of the workers, divided by the events its partitions
held; publishing is not in it. Every run is checked: each event logged and counted once.
"""

from __future__ import annotations

import itertools

import redis
from redis.cluster import RedisCluster

from benchmarks.harness import Bench, BenchmarkError
from benchmarks.traffic import Traffic
from benchmarks.worker_runs import check_logs, run_workers, worker_env
from producer_sdk import Publisher, StreamName
from worker.keys import Keys
from worker.local.redis_server import ClusterOfServers
from worker.settings import load_settings

SECTION = 10
GROUPS = "logs,metrics,feedback"
PARTITIONS = 3
MASTERS = 3
CHUNK = 1_000


def bench_cluster(bench: Bench) -> None:
    count = bench.sizes.cluster_events
    single_us = _single_redis_us(bench, count)
    bench.add(
        SECTION,
        f"one Redis: Redis CPU per event, {GROUPS}, {count:,} events",
        f"{single_us:.1f} us",
        value=single_us,
        unit="us/event",
    )
    cluster = ClusterOfServers(bench.tmp / "cluster", masters=MASTERS).start()
    try:
        per_master = _cluster_us(bench, cluster, count)
    finally:
        cluster.stop()
    for port, (partitions, events, us) in sorted(per_master.items()):
        bench.add(
            SECTION,
            f"cluster master :{port} (partition {partitions}, {events:,} events): "
            "Redis CPU per event",
            f"{us:.1f} us ({us / single_us:.2f}x one Redis)",
            value=us,
            unit="us/event",
        )
    worst_us = max(us for _, _, us in per_master.values())
    for shards in (1, 3, 8):
        per_s = shards * 1_000_000 / worst_us
        bench.add(
            SECTION,
            f"on paper: {shards} shard(s), one Redis core each, at the costliest "
            "master's CPU per event",
            f"{per_s:,.0f} events/s",
            value=per_s,
            unit="events/s",
        )


def _single_redis_us(bench: Bench, count: int) -> float:
    prefix, home = bench.sub("cluster-single"), bench.tmp / "cluster-single"
    _publish(Publisher(bench.client, prefix=prefix), count)
    before = _cpu_s(bench.client)
    run_workers(bench, worker_env(bench, prefix, home), GROUPS, consumers=1)
    used_s = _cpu_s(bench.client) - before
    check_logs(home, count)
    return used_s * 1_000_000 / count


def _cluster_us(
    bench: Bench, cluster: ClusterOfServers, count: int
) -> dict[int, tuple[list[int], int, float]]:
    """Per master port: its partitions, the events they held, Redis CPU per event."""
    prefix = _prefix_one_partition_per_master(bench, cluster)
    home = bench.tmp / "cluster-partitioned"
    publisher = Publisher.from_url(
        cluster.url, prefix=prefix, on_failure="raise", partitions=PARTITIONS, publish_timeout_s=5
    )
    _publish(publisher, count)
    held = _events_by_master(RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port), prefix)
    publisher.redis.close()
    env = worker_env(bench, prefix, home) | {
        "REDIS_URL": cluster.url,
        "MLMON_PARTITIONS": str(PARTITIONS),
        "MLMON_RQ_REDIS_URL": bench.url,
    }
    clients = {node.port: redis.Redis(port=node.port) for node in cluster.nodes}
    try:
        before = {port: _cpu_s(client) for port, client in clients.items()}
        run_workers(bench, env, GROUPS, consumers=1)
        used = {port: _cpu_s(client) - before[port] for port, client in clients.items()}
    finally:
        for client in clients.values():
            client.close()
    check_logs(home, count)
    if sum(events for _, events in held.values()) != count:
        raise BenchmarkError(f"the partitions hold {held}, not {count:,} events")
    return {
        port: (partitions, events, used[port] * 1_000_000 / events)
        for port, (partitions, events) in held.items()
        if events
    }


def _prefix_one_partition_per_master(bench: Bench, cluster: ClusterOfServers) -> str:
    """A key prefix whose partitions' hash tags fall on different masters (the slots are
    split evenly by node order)."""
    for attempt in itertools.count():
        prefix = bench.sub(f"cluster{attempt}")
        masters = {cluster.node_index(f"{{{prefix}-p{i}}}") for i in range(PARTITIONS)}
        if len(masters) == min(PARTITIONS, MASTERS):
            return prefix
    raise AssertionError("unreachable")


def _events_by_master(client: RedisCluster, prefix: str) -> dict[int, tuple[list[int], int]]:
    """Per master port: the partitions whose slot it serves, and their events."""
    settings = load_settings(MLMON_PREFIX=prefix, MLMON_PARTITIONS=str(PARTITIONS))
    held: dict[int, tuple[list[int], int]] = {}
    try:
        for index, keys in enumerate(Keys.partitions_of(settings)):
            stream = keys.stream(StreamName.PREDICTIONS)
            port = int(client.get_node_from_key(stream).port)
            partitions, events = held.get(port, ([], 0))
            held[port] = ([*partitions, index], events + int(client.xlen(stream)))
    finally:
        client.close()
    return held


def _publish(publisher: Publisher, count: int) -> None:
    traffic = Traffic(seed=9, feature_share=0.3)
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        publisher.publish_many(traffic.predictions(size, offset=start, total=count))


def _cpu_s(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
