"""Runs several group consumers in one process, with a symmetric shutdown.

The first SIGTERM/SIGINT stops taking work: every consumer finishes and acknowledges its
batch, then the process exits 0. A second signal exits at once.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Sequence

from worker.consumer.runtime import GroupConsumer
from worker.log import get_logger
from worker.signals import on_stop_signals

log = get_logger(__name__)
JOIN_POLL_S = 0.2
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc_for_consuming() -> None:
    """For a process that does nothing but consume: a consumer allocates several objects
    per event, nearly all freed by reference counting, yet the cycle collector's default
    pace (a pass every 700 allocations, the older generations scanning everything the
    imports left) cost 10-15 % of its CPU. What exists now (modules, consumers) is moved
    out of the collector's sight for good, and it runs less often. Not for a process that
    goes on doing other things (a test run): frozen objects are never collected."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_consumers(
    consumers: Sequence[GroupConsumer],
    *,
    burst: bool,
    stop: threading.Event,
    stop_deadline_s: float = 60.0,
) -> int:
    """Run each consumer in a thread until done or stopped; the exit code of the worker.

    Once `stop` is set, the consumers get `stop_deadline_s` to finish their batch; a thread
    still running then (a handler stuck on I/O) is reported and the process exits 1: its
    batch stays pending and is claimed by the next consumer.
    """
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

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            os._exit(128 + sig.value)
        log.info("stopping after the current batch", signal=sig.name)
        stop.set()

    restore = on_stop_signals(on_signal)
    try:
        for thread in threads:
            thread.start()
        stuck = _wait(threads, stop, stop_deadline_s)
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
    return 1 if failed or stuck else 0


def _wait(
    threads: Sequence[threading.Thread], stop: threading.Event, deadline_s: float
) -> list[str]:
    """Join the threads; once `stop` is set, give up after `deadline_s` and return the names
    of those still running."""
    stop_seen_at: float | None = None
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(JOIN_POLL_S)
        if stop.is_set():
            stop_seen_at = stop_seen_at or time.monotonic()
            if time.monotonic() - stop_seen_at > deadline_s:
                stuck = [thread.name for thread in threads if thread.is_alive()]
                log.error("consumers did not stop in time", threads=stuck)
                return stuck
    return []
