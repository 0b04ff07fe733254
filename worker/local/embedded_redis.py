"""A Redis server of mlmon's own, for `mlmon demo` and `mlmon up` on a machine without one.

Used only when `REDIS_URL` is not set and nothing answers at the default address; it is a
`redis-server` found on the PATH, persisted (AOF) under `data/redis/`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from worker.local.redis_server import AOF_EVERY_SECOND, RedisServer, RedisServerError
from worker.redis_conn import RedisUnavailableError, connect_url
from worker.settings import DEFAULT_REDIS_URL, Settings


class EmbeddedRedisError(Exception):
    """No Redis could be started; the message says what to install or set."""


def start_embedded_redis(data_dir: Path) -> RedisServer:
    """Start `redis-server` on a free loopback port, persisted (AOF), and wait for PING."""
    server = RedisServer(data_dir, args=AOF_EVERY_SECOND, process_group=True)
    try:
        return server.start()
    except RedisServerError as e:
        raise EmbeddedRedisError(f"no Redis is reachable and {e}; or set REDIS_URL") from e


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
        server.stop(save=True)
