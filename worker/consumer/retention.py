"""Retention: streams trimmed by age, prediction logs compressed and deleted by age.

A stream is trimmed (`XTRIM MINID`) to `ML_STREAM_RETENTION_DAYS`, but never past an
entry some group still needs: one pending anywhere, or not yet delivered to a group, or
any entry at all while a group that reads the stream has not been created yet. Then it
is capped at about `MLMON_STREAM_MAXLEN` entries, a safety cap that does drop unread
entries (producers never trim: their ACL user need not be trusted with deletes).
Prediction logs of days older than `ML_LOG_COMPRESS_DAYS` are gzipped, and older than
`ML_LOG_RETENTION_DAYS` deleted; both are off unless set.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import redis

from producer_sdk.streams import StreamName
from worker.keys import Keys
from worker.log import get_logger
from worker.redis_values import as_text, parse_stream_id
from worker.settings import Settings

log = get_logger(__name__)
DAY_MS = 86_400_000
LOG_FILE = re.compile(r"^predictions_(\d{4}-\d{2}-\d{2})\.(jsonl|csv)(\.gz)?$")


def trim_stream(
    client: redis.Redis, settings: Settings, stream: StreamName, readers: list[str]
) -> int:
    """Trim one stream by age, keeping what any of `readers` (group names) still needs.
    Returns the number of entries removed."""
    key = Keys.of(settings).stream(stream)
    try:
        groups: list[dict[str, Any]] = client.xinfo_groups(key)
    except redis.ResponseError:
        return 0  # no stream yet
    capped = int(client.xtrim(key, maxlen=settings.stream_maxlen, approximate=True))
    if capped:
        log.warning(
            "stream over its length cap; oldest entries trimmed", stream=key, removed=capped
        )
    by_name = {as_text(g["name"]): g for g in groups}
    if any(name not in by_name for name in readers):
        return capped  # a reader has not started: everything is still unread for it
    cutoff = (int(time.time() * 1000) - settings.stream_retention_days * DAY_MS, 0)
    for name in readers:
        cutoff = min(cutoff, _first_needed(client, key, name, by_name[name]))
    removed = int(client.xtrim(key, minid=f"{cutoff[0]}-{cutoff[1]}", approximate=False))
    if removed:
        log.info("trimmed stream by age", stream=key, removed=removed)
    return capped + removed


def _first_needed(
    client: redis.Redis, key: str, group: str, info: dict[str, Any]
) -> tuple[int, int]:
    """The oldest entry `group` still needs: its first pending one, else the first one
    after what it was last delivered."""
    summary: Any = client.xpending(key, group)
    if summary["pending"]:
        return parse_stream_id(summary["min"])
    ms, seq = parse_stream_id(info["last-delivered-id"])
    return ms, seq + 1


def age_logs(settings: Settings, client: redis.Redis, *, today: date) -> None:
    """Gzip and delete prediction logs by the age of their day."""
    directory = settings.predictions_log_dir
    if not directory.exists():
        return
    compress_days, keep_days = settings.log_compress_days, settings.log_retention_days
    for path in sorted(directory.iterdir()):
        match = LOG_FILE.match(path.name)
        if match is None:
            continue
        age_days = (today - datetime.strptime(match.group(1), "%Y-%m-%d").date()).days
        if keep_days is not None and age_days > keep_days:
            path.unlink()
            _forget(client, settings, path)
            log.info("deleted old prediction log", file=path.name)
        elif compress_days is not None and age_days > compress_days and not match.group(3):
            _gzip(path)
            _forget(client, settings, path)
            log.info("compressed old prediction log", file=path.name)


def _gzip(path: Path) -> None:
    target = path.with_name(path.name + ".gz")
    temporary = target.with_name("." + target.name + ".tmp")
    with path.open("rb") as source, gzip.open(temporary, "wb") as sink:
        shutil.copyfileobj(source, sink)
    with temporary.open("rb") as written:
        os.fsync(written.fileno())
    temporary.replace(target)
    path.unlink()


def _forget(client: redis.Redis, settings: Settings, path: Path) -> None:
    """Drop a file's committed length: a late event for that day starts a new file."""
    name = path.relative_to(settings.home).as_posix()
    client.hdel(Keys.of(settings).files_committed, name)
