"""`mlmon worker` with several groups: a process per group, so they use every core.

Groups run as threads of one interpreter share its lock; a process each takes several
times the throughput on a machine with more than one core. The parent forks one child per
group once everything is imported (a fork costs milliseconds, a fresh interpreter about
0.4 s of CPU), each child builds and runs its group's consumer (same consumer name, same
settings), and the parent forwards each stop signal to all of them (the second one makes
them exit at once, as it does a single worker), and waits.

With `burst` it waits for every child and exits 1 if any failed. Otherwise a child that
exits by itself (a crash, a fatal error) stops the others, and the parent exits with its
code: whatever runs `mlmon worker` (systemd, Docker) restarts the whole worker, as it
would restart a single process. Each child runs in a session of its own, so a Ctrl+C in
the terminal reaches only the parent, which forwards exactly one SIGTERM. On Linux a child
is killed when the parent dies (a SIGKILL of the worker is a crash of all of it, as it was
of one process), so no child outlives it to race its successor.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from worker.signals import on_stop_signals

POLL_S = 0.05
PR_SET_PDEATHSIG = 1  # prctl(2)


def run_group_processes(
    groups: Sequence[str], run_group: Callable[[str], int], *, burst: bool
) -> int:
    """Fork a child per group that returns `run_group(group)` as its exit code; the exit
    code of the whole. Call it before any thread is started (fork copies only the caller)."""
    signals: list[signal.Signals] = []
    restore = on_stop_signals(signals.append)
    parent_pid = os.getpid()
    children: dict[int, int | None] = {}  # pid -> exit code once reaped
    try:
        for group in groups:
            pid = os.fork()
            if pid == 0:
                restore()
                _child(group, run_group, parent_pid)
            children[pid] = None
        return _wait(children, signals, burst=burst)
    finally:
        restore()
        for pid, code in children.items():
            if code is None:
                _send(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)


def _child(group: str, run_group: Callable[[str], int], parent_pid: int) -> None:
    """The child's whole life: never returns into the parent's code."""
    code = 1
    try:
        os.setsid()
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == parent_pid:  # else the parent died before prctl took effect
            code = run_group(group)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001  (the child's last boundary: report, exit 1)
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _wait(children: dict[int, int | None], signals: list[signal.Signals], *, burst: bool) -> int:
    forwarded = 0
    stopping = False
    while any(code is None for code in children.values()):
        while forwarded < len(signals):
            forwarded += 1
            _send_all(children, signal.SIGTERM)
        for pid, code in children.items():
            if code is None:
                reaped, status = os.waitpid(pid, os.WNOHANG)
                if reaped:
                    children[pid] = os.waitstatus_to_exitcode(status)
        exited = any(code is not None for code in children.values())
        if not burst and not stopping and not forwarded and exited:
            stopping = True  # one child is gone: stop the rest, the worker exits as a whole
            _send_all(children, signal.SIGTERM)
        time.sleep(POLL_S)
    # a child stopped before it set its signal handlers dies of the SIGTERM: it had not
    # started consuming, so it stopped as cleanly as one that finished its batch
    stopped = -signal.SIGTERM if forwarded or stopping else None
    codes = [0 if code == stopped else code for code in children.values()]
    return 0 if all(code == 0 for code in codes) else max(abs(c or 0) for c in codes) or 1


def _send_all(children: dict[int, int | None], sig: signal.Signals) -> None:
    for pid, code in children.items():
        if code is None:
            _send(pid, sig)


def _send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
