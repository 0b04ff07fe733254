"""A Redis server of mlmon's own, for the demo on a machine that has none running.

Used only when `REDIS_URL` is not set and nothing answers at the default address; it is a
`redis-server` found on the PATH, persisted (AOF) under `data/redis/`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

STARTUP_TIMEOUT_S = 10.0


class EmbeddedRedisError(Exception):
    """No Redis could be started; the message says what to install or set."""


@dataclass
class EmbeddedRedis:
    """A running `redis-server` child process; `stop()` shuts it down cleanly."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        with contextlib.suppress(redis.RedisError):  # the server closes the connection
            redis.Redis.from_url(self.url).shutdown(nosave=False)
        try:
            self.process.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_embedded_redis(data_dir: Path) -> EmbeddedRedis:
    """Start `redis-server` on a free loopback port and wait until it answers PING."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise EmbeddedRedisError(
            "no Redis is reachable and redis-server is not installed: "
            "install it (apt install redis-server) or set REDIS_URL"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            "redis.log",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited at start; see {data_dir}/redis.log")
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            return EmbeddedRedis(process, url)
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise EmbeddedRedisError(f"redis-server did not answer within {STARTUP_TIMEOUT_S:.0f} s")
