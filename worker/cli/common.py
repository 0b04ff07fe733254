"""Helpers every `mlmon` command uses: settings and Redis, or one clear line and an exit."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
import redis

from worker.log import configure_logging
from worker.redis_conn import (
    RedisUnavailableError,
    cluster_misdirection,
    connect,
    connect_rq,
)
from worker.settings import Settings, SettingsError, load_settings

EXIT_UNAVAILABLE = 1
EXIT_CONFIG = 2


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"mlmon: {message}", err=True)
    sys.exit(code)


def say(message: str) -> None:
    """A line for the person at the terminal (stderr, so stdout stays data)."""
    click.echo(message, err=True)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except SettingsError as e:
        fail(str(e), EXIT_CONFIG)
    configure_logging(settings.log_level)
    return settings


def redis_or_exit(
    settings: Settings, *, shared_by_threads: int | None = None, rq: bool = False
) -> redis.Redis:
    """The main Redis, or with `rq` the one RQ keeps its queues on (`connect_rq`)."""
    try:
        if rq:
            return connect_rq(settings)
        return connect(settings, shared_by_threads=shared_by_threads)
    except RedisUnavailableError as e:
        fail(str(e), EXIT_UNAVAILABLE)


def fitting_redis_or_exit(settings: Settings) -> redis.Redis:
    """The main Redis, once it is known to fit the settings: a node of a Redis Cluster
    through a plain URL, or a cluster without partitions, stops the command (exit 2)."""
    client = redis_or_exit(settings)
    problem = cluster_misdirection(client, settings)
    if problem is not None:
        client.close()
        fail(problem.removeprefix("redis: "), EXIT_CONFIG)
    return client
