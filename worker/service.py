"""Runs several group consumers in one process, with a symmetric shutdown.

The first SIGTERM/SIGINT stops taking work: every consumer finishes and acknowledges its
batch, then the process exits 0. A second signal exits at once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType

from worker.groups import GROUP_STREAMS, GROUPS
from worker.log import get_logger
from worker.redis_conn import connect
from worker.runtime import GroupConsumer
from worker.settings import Settings

log = get_logger(__name__)
JOIN_POLL_S = 0.2
STREAM_READERS = {
    stream: [group for group, streams in GROUP_STREAMS.items() if stream in streams]
    for stream in {s for streams in GROUP_STREAMS.values() for s in streams}
}


def build_consumers(
    settings: Settings, groups: Sequence[str], *, consumer: str, stop: threading.Event
) -> list[GroupConsumer]:
    """One consumer (and one Redis connection) per group."""
    consumers = []
    for name in groups:
        client = connect(settings)
        handler = GROUPS[name](client, settings)
        consumers.append(
            GroupConsumer(
                handler,
                client,
                settings=settings,
                consumer=consumer,
                stop=stop,
                stream_readers=STREAM_READERS,
            )
        )
    return consumers


def run_consumers(consumers: Sequence[GroupConsumer], *, burst: bool, stop: threading.Event) -> int:
    """Run each consumer in a thread until done or stopped; the exit code of the worker."""
    failed: list[str] = []

    def run(consumer: GroupConsumer) -> None:
        try:
            consumer.run(burst=burst)
        except Exception:
            log.exception("consumer failed", group=consumer.group)
            failed.append(consumer.group)

    threads = [
        threading.Thread(target=run, args=(c,), name=f"group-{c.group}", daemon=True)
        for c in consumers
    ]
    restore = _install_signal_handlers(stop)
    try:
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(JOIN_POLL_S)
    finally:
        restore()
    for consumer in consumers:
        consumer.client.close()
        log.info(
            "consumer stopped",
            group=consumer.group,
            processed=consumer.stats.processed,
            dead_lettered=consumer.stats.dead_lettered,
        )
    return 1 if failed else 0


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        log.info("stopping after the current batch", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
