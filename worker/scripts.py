"""The Lua scripts that make an effect and its acknowledgement one atomic step."""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script


@cache
def _source(name: str) -> str:
    return resources.files("worker").joinpath("lua", f"{name}.lua").read_text()


def load_script(client: redis.Redis, name: str) -> Script:
    """Register `worker/lua/<name>.lua`; redis-py runs it by SHA and reloads it if flushed."""
    return client.register_script(_source(name))
