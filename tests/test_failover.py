"""Sentinel failover with real servers: a primary, a replica and three Sentinels on this
machine; the primary is SIGKILLed while the SDK publishes and a worker consumes."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from helpers import MLMON, assert_exactly_once, make_prediction, run_mlmon, wait_until

from producer_sdk import Prediction, Publisher
from worker.local.redis_server import AOF_ALWAYS, RedisServer

SERVICE = "mlmon-test"
DOWN_AFTER_MS = 1_000


class Cluster:
    """A Sentinel-managed pair of servers."""

    def __init__(self, root: Path) -> None:
        self.primary = RedisServer(root / "primary", args=AOF_ALWAYS).start()
        replica_args = (*AOF_ALWAYS, "--replicaof", "127.0.0.1", str(self.primary.port))
        self.replica = RedisServer(root / "replica", args=replica_args).start()
        self.sentinels = [self._sentinel(root / f"sentinel{i}") for i in range(3)]
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        self.url = f"redis+sentinel://{hosts}/{SERVICE}/0"

    def _sentinel(self, directory: Path) -> RedisServer:
        directory.mkdir(parents=True)
        config = directory / "sentinel.conf"
        config.write_text(
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        return RedisServer(directory, args=("--sentinel",), config_file=config).start()

    def primary_port(self) -> int:
        with redis.Redis(port=self.sentinels[0].port) as sentinel:
            _, port = sentinel.sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def replica_synced(self) -> bool:
        with redis.Redis(port=self.replica.port) as replica:
            return bool(replica.info("replication").get("master_link_status") == "up")

    def stop(self) -> None:
        for server in [*self.sentinels, self.primary, self.replica]:
            server.stop(save=False)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    servers = Cluster(tmp_path / "servers")
    wait_until(servers.replica_synced, what="the replica to sync")
    try:
        yield servers
    finally:
        servers.stop()


class PublishLoop:
    """Publishes predictions until stopped, recording when each one was taken."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.published: list[Prediction] = []
        self.accepted_at: list[float] = []  # publish returned an entry id (not spooled)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            event = make_prediction(ticker=f"F{len(self.published)}.NS")
            self.published.append(event)
            if self.publisher.publish(event) is not None:
                self.accepted_at.append(time.monotonic())
            time.sleep(0.01)  # the pace of a pipeline, not a synchronisation


def test_sentinel_failover_loses_nothing_and_resumes_quickly(
    cluster: Cluster, prefix: str, home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "REDIS_URL": cluster.url}
    worker = subprocess.Popen(
        [MLMON, "worker", "--groups", "logs,metrics"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    publisher = Publisher.from_url(
        cluster.url, prefix=prefix, spool_dir=tmp_path / "spool", replicas_to_ack=1
    )
    loop = PublishLoop(publisher)
    try:
        loop.thread.start()
        stream = f"{prefix}:stream:predictions"
        with redis.Redis(port=cluster.primary.port) as first:
            wait_until(lambda: _entries_read(first, stream) >= 100, what="the worker to consume")
        old_port = cluster.primary.port
        cluster.primary.kill()
        wait_until(lambda: cluster.primary_port() != old_port, timeout_s=30, what="promotion")
        promoted_at = time.monotonic()
        new_client = redis.Redis(port=cluster.primary_port())
        read_before = _entries_read(new_client, stream)
        wait_until(lambda: loop.accepted_at[-1] > promoted_at, what="publishing to resume")
        wait_until(lambda: _entries_read(new_client, stream) > read_before, what="consuming")
        consumed_at = time.monotonic()
        publish_resumed_s = min(t for t in loop.accepted_at if t > promoted_at) - promoted_at
        assert publish_resumed_s < 6, f"publishing resumed {publish_resumed_s:.1f} s after"
        assert consumed_at - promoted_at < 6, "consuming resumed within 6 s of the promotion"

        cluster.primary.start()  # the old primary comes back and must become a replica
        wait_until(lambda: _role(cluster.primary.port) == "slave", what="the old primary to rejoin")
        accepted_at_rejoin = len(loop.accepted_at)
        wait_until(lambda: len(loop.accepted_at) > accepted_at_rejoin + 20, what="more traffic")
        loop.stop.set()
        loop.thread.join(timeout=10)
        publisher.flush_spool()
        assert not publisher.spool.has_entries()
        wait_until(lambda: _drained(new_client, stream), timeout_s=60, what="the worker to drain")
    finally:
        loop.stop.set()
        worker.terminate()
        _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr.decode()[-2000:]
    assert _role(cluster.primary.port) == "slave", "the old primary was never written to as one"
    assert_exactly_once(home, env, loop.published)


def test_rq_worker_on_sentinel_survives_a_failover_and_stops_cleanly(
    cluster: Cluster, env: dict[str, str]
) -> None:
    """redis-py keeps a Sentinel connection whose blocking read a stop signal interrupted;
    RQ's clean-up then read that read's late reply and exited 1 after waiting it out."""
    env = {**env, "REDIS_URL": cluster.url}
    rq_worker = subprocess.Popen(
        [MLMON, "rq-worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        check = ("rq-worker", "--check")
        wait_until(lambda: run_mlmon(*check, env=env).returncode == 0, what="the RQ worker")
        old_port = cluster.primary.port
        cluster.primary.kill()
        wait_until(lambda: cluster.primary_port() != old_port, timeout_s=30, what="promotion")
        wait_until(lambda: run_mlmon(*check, env=env).returncode == 0, what="a serving worker")
        assert rq_worker.poll() is None, "the RQ worker outlived the failover"
    finally:
        rq_worker.terminate()
        # its blocking read lasts 20 s; a clean stop does not wait for it
        output, _ = rq_worker.communicate(timeout=10)
    assert rq_worker.returncode == 0, output.decode()[-2000:]
    assert b"Wrong number of response items" not in output


def _entries_read(client: redis.Redis, stream: str) -> int:
    """Entries the logs and metrics groups have read (0 before they exist)."""
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no stream yet
        return 0
    return sum(int(g["entries-read"] or 0) for g in groups)


def _drained(client: redis.Redis, stream: str) -> bool:
    groups = client.xinfo_groups(stream)
    return all(g["lag"] == 0 and g["pending"] == 0 for g in groups) and len(groups) == 2


def _role(port: int) -> str:
    try:
        with redis.Redis(port=port, socket_connect_timeout=1) as client:
            return str(client.info("replication")["role"])
    except redis.ConnectionError:
        return "down"
