"""`mlmon worker` with several groups: a process per group, so they use every core.

Groups run as threads of one interpreter share its lock; a process each takes several
times the throughput on a machine with more than one core. The parent starts one
`mlmon worker --threads --groups <group>` per group (same consumer name, same
environment), forwards each stop signal to all of them (the second one makes them exit at
once, as it does a single worker), and waits.

With `--burst` it waits for every child and exits 1 if any failed. Otherwise a child that
exits by itself (a crash, a fatal error) stops the others, and the parent exits with its
code: whatever runs `mlmon worker` (systemd, Docker) restarts the whole worker, as it
would restart a single process. Each child runs in a process group of its own, so a
Ctrl+C in the terminal reaches only the parent, which forwards exactly one SIGTERM. On
Linux a child is killed when the parent dies (a SIGKILL of the worker is a crash of all
of it, as it was of one process), so no child outlives it to race its successor.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from worker.signals import on_stop_signals

POLL_S = 0.05
PR_SET_PDEATHSIG = 1  # prctl(2)


def run_group_processes(groups: Sequence[str], *, burst: bool, consumer: str) -> int:
    """Run each of `groups` in a child `mlmon worker`; the exit code of the whole."""
    signals: list[signal.Signals] = []
    restore = on_stop_signals(signals.append)
    children: list[subprocess.Popen[bytes]] = []
    try:
        for group in groups:
            argv = [sys.executable, "-m", "worker.cli", "worker", "--threads"]
            argv += ["--groups", group, "--consumer", consumer, *(["--burst"] if burst else [])]
            children.append(
                # the parent has no other thread yet, so preexec_fn is safe here
                subprocess.Popen(
                    argv,
                    start_new_session=True,
                    preexec_fn=_die_with(os.getpid()),  # noqa: PLW1509
                )
            )
        return _wait(children, signals, burst=burst)
    finally:
        restore()
        for child in children:
            if child.poll() is None:
                _send(child, signal.SIGKILL)
                child.wait()


def _wait(
    children: list[subprocess.Popen[bytes]], signals: list[signal.Signals], *, burst: bool
) -> int:
    forwarded = 0
    stopping = False
    while any(child.poll() is None for child in children):
        while forwarded < len(signals):
            forwarded += 1
            for child in children:
                _send(child, signal.SIGTERM)
        if not burst and not stopping and any(c.returncode is not None for c in children):
            stopping = True  # one child is gone: stop the rest, the worker exits as a whole
            for child in children:
                _send(child, signal.SIGTERM)
        time.sleep(POLL_S)
    # a child stopped before it set its signal handlers dies of the SIGTERM: it had not
    # started consuming, so it stopped as cleanly as one that finished its batch
    stopped = -signal.SIGTERM if forwarded or stopping else None
    codes = [0 if c.returncode == stopped else c.returncode for c in children]
    return 0 if all(code == 0 for code in codes) else max(abs(code) for code in codes) or 1


def _send(child: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(sig)


def _die_with(parent_pid: int) -> Callable[[], None]:
    """In the child, before exec: be killed when the parent dies (Linux; elsewhere a no-op)."""

    def arrange() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)

    return arrange
