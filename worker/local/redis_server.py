"""Start and stop a `redis-server` child process: the one launcher behind mlmon's embedded
Redis, the tests' private servers (replicas, Sentinels, Cluster nodes) and the benchmark's.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

STARTUP_TIMEOUT_S = 10.0
CLUSTER_SLOTS = 16_384
CLUSTER_BUS_OFFSET = 10_000  # a node's cluster bus listens on its port plus this
PING_POLL_S = 0.05
# persistence presets (append to `args`)
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")
AOF_EVERY_SECOND = ("--save", "", "--appendonly", "yes", "--appendfsync", "everysec")
AOF_ALWAYS = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


class RedisServerError(Exception):
    """redis-server is missing, exited at start or did not answer; the message says which."""


def free_port() -> int:
    """A loopback TCP port that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A `redis-server` on a loopback port with its files in `directory`; it can be stopped
    and started again on the same port with its data.

    :param args: arguments after port, bind and dir (a persistence preset, `--sentinel`...).
    :param config_file: a config file to start from (a Sentinel needs one it can rewrite).
    :param process_group: start it in a process group of its own, so a Ctrl+C in the
        terminal does not stop it before the workers using it have finished.
    """

    directory: Path
    args: Sequence[str] = NO_PERSISTENCE
    port: int = field(default_factory=free_port)
    process_group: bool = False
    config_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self, *, wait_url: str | None = None, **client_options: Any) -> RedisServer:
        """Start it and wait until it answers PING (at `wait_url`, with `client_options`,
        for a server that needs TLS or a password)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerError(
                "redis-server is not installed: install it (apt install redis-server) "
                "or point REDIS_URL at a running Redis"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [binary] if self.config_file is None else [binary, str(self.config_file)]
        command += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir"]
        command += [str(self.directory.resolve()), "--logfile", "redis.log", *self.args]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            process_group=0 if self.process_group else None,
        )
        self._wait_for_ping(wait_url or self.url, client_options)
        return self

    def _wait_for_ping(self, url: str, client_options: dict[str, Any]) -> None:
        assert self.process is not None
        options = {"socket_connect_timeout": 0.5, **client_options}
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited at start; see {self.directory / 'redis.log'}"
                )
            try:
                with redis.Redis.from_url(url, **options) as client:
                    client.ping()
                return
            except redis.RedisError:
                time.sleep(PING_POLL_S)
        self.kill()
        raise RedisServerError(f"redis-server did not answer within {STARTUP_TIMEOUT_S:.0f} s")

    def stop(self, *, save: bool = True, **client_options: Any) -> None:
        """SHUTDOWN (writing its data first with `save`), else SIGTERM, else SIGKILL."""
        if self.process is None:
            return
        # the server closes the connection as it shuts down
        with (
            contextlib.suppress(redis.RedisError),
            redis.Redis.from_url(self.url, **client_options) as client,
        ):
            client.shutdown(nosave=not save)
        try:
            self.process.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=STARTUP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, as a test of failover needs it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def free_cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too."""
    while True:
        port = free_port()
        if port + CLUSTER_BUS_OFFSET > 65_535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
            except OSError:
                continue
        return port


@dataclass
class ClusterOfServers:
    """A Redis Cluster of `masters` primaries (no replicas) on loopback ports: the tests'
    and the benchmark's cluster, each node a RedisServer with its own folder."""

    directory: Path
    masters: int = 3
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The `redis+cluster://` URL of every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> ClusterOfServers:
        """Start the nodes, give each an equal share of the 16384 slots, and wait until
        every node sees the cluster as ok."""
        for index in range(self.masters):
            node_dir = self.directory / f"node{index}"
            node = RedisServer(node_dir, port=free_cluster_port())
            node.args = (
                *NO_PERSISTENCE,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str((node_dir / "nodes.conf").resolve()),
            )
            try:
                self.nodes.append(node.start())
            except RedisServerError:
                self.stop()
                raise
        clients = [redis.Redis(port=node.port) for node in self.nodes]
        try:
            share = CLUSTER_SLOTS // self.masters
            for index, client in enumerate(clients):
                last = CLUSTER_SLOTS - 1 if index == self.masters - 1 else (index + 1) * share - 1
                client.execute_command("CLUSTER ADDSLOTSRANGE", index * share, last)  # type: ignore[no-untyped-call]
                client.execute_command("CLUSTER SET-CONFIG-EPOCH", index + 1)  # type: ignore[no-untyped-call]
            for client in clients[1:]:
                client.execute_command("CLUSTER MEET", "127.0.0.1", self.nodes[0].port)  # type: ignore[no-untyped-call]
            self._wait_until_ok(clients)
        finally:
            for client in clients:
                client.close()
        return self

    def node_index(self, key: str) -> int:
        """Which node serves `key` (the slots are split evenly, in node order)."""
        return min(key_slot(key.encode()) // (CLUSTER_SLOTS // self.masters), self.masters - 1)

    def _wait_until_ok(self, clients: list[redis.Redis]) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            infos = [client.execute_command("CLUSTER INFO") for client in clients]  # type: ignore[no-untyped-call]
            if all(_cluster_ok(info, self.masters) for info in infos):
                return
            time.sleep(PING_POLL_S)
        self.stop()
        raise RedisServerError(f"the cluster was not ok within {STARTUP_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop(save=False)


def _cluster_ok(info: dict[str, str], masters: int) -> bool:
    """CLUSTER INFO (as redis-py parses it) says ok, and the node knows every master."""
    return info.get("cluster_state") == "ok" and int(info.get("cluster_known_nodes", 0)) == masters
