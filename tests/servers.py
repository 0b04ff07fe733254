"""Private redis-server processes for tests that stop, restart or lock down Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A redis-server on a fixed port and folder, so it can be stopped and started again
    with its data (AOF, fsync always)."""

    def __init__(self, directory: Path, *, extra_args: list[str] | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(
        self, *, wait_url: str | None = None, wait_kwargs: dict[str, object] | None = None
    ) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed on the PATH"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(wait_url or self.url, **(wait_kwargs or {})).ping()  # type: ignore[arg-type]
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
