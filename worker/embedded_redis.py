"""A Redis server of mlmon's own, for `mlmon demo` and `mlmon up` on a machine without one.

Used only when `REDIS_URL` is not set and nothing answers at the default address; it is a
`redis-server` found on the PATH, persisted (AOF) under `data/redis/`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from worker.redis_conn import RedisUnavailableError, connect_url
from worker.settings import DEFAULT_REDIS_URL, Settings

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
        # its own process group: a Ctrl+C in the terminal must not stop Redis under the
        # workers still finishing their batches; `stop()` shuts it down after them
        process_group=0,
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


@contextmanager
def redis_for_local_use(
    settings: Settings,
    *,
    say: Callable[[str], None],
    default_url: str = DEFAULT_REDIS_URL,
) -> Iterator[str]:
    """The URL of the Redis to use; without REDIS_URL and nothing at `default_url`, one
    started here (data in `data/redis/` under MLMON_HOME) and stopped on exit.

    With REDIS_URL set it never starts one: the user chose a Redis, and a silent
    stand-in would hide that theirs is down. `say` gets the one line telling that a
    server was started. Raises EmbeddedRedisError when none can be started.
    """
    if settings.redis_url_set:
        yield settings.redis_url
        return
    try:
        connect_url(default_url, timeout_s=1.0).close()
    except RedisUnavailableError:
        pass
    else:
        yield default_url
        return
    server = start_embedded_redis(settings.home / "data" / "redis")
    say(f"no Redis at {default_url}; started redis-server at {server.url} (data in data/redis/)")
    try:
        yield server.url
    finally:
        server.stop()
