"""Runs a set of child processes as one service: restart with back-off, graceful stop.

What `mlmon up` uses to run the process set of docker-compose.yml without Docker. One
supervisor process, one thread: it polls its children, and

- restarts a child that exits, after an exponential back-off (capped), so a child that
  cannot start (Redis down, say) is retried without spinning; a child that ran for
  `stable_after_s` starts its back-off over;
- on SIGTERM or SIGINT sends each child one SIGTERM, waits up to `grace_s` for all of them
  to finish their work and exit, and then forces the rest: a second SIGTERM (`mlmon
  worker` exits at once; RQ's worker kills its job process, which runs in a process group
  of its own and would outlive a SIGKILL of the worker), and `FORCE_KILL_AFTER_S` later
  SIGKILL to the child's process group. A second signal to the supervisor forces at once;
- reports one line per child whenever its state changes: name, pid, state, restarts.

Each child runs in a process group of its own, so a Ctrl+C in the terminal reaches only
the supervisor, which then sends exactly one SIGTERM: to `mlmon worker` a second signal
means "exit now, drop the batch".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from redis.backoff import ExponentialBackoff

from worker.signals import on_stop_signals

POLL_S = 0.1
FORCE_KILL_AFTER_S = 2.0


@dataclass(frozen=True)
class ChildSpec:
    """A process to keep running: its name in status lines and its command line."""

    name: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class RestartPolicy:
    """Back-off before restarting a child that exited: doubling, capped."""

    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    stable_after_s: float = 30.0

    def backoff_s(self, exits_in_a_row: int) -> float:
        backoff = ExponentialBackoff(cap=self.max_backoff_s, base=self.initial_backoff_s)
        return float(backoff.compute(max(0, exits_in_a_row - 1)))


class State(str, Enum):
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    STOPPED = "stopped"
    KILLED = "killed"


@dataclass
class Child:
    """A supervised child and what the supervisor knows about it."""

    spec: ChildSpec
    state: State = State.STOPPED
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    exits_in_a_row: int = 0
    started_at_s: float = 0.0
    restart_at_s: float = 0.0
    exit_code: int | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def status_line(self, detail: str = "") -> str:
        line = (
            f"{self.spec.name:<16} pid={self.pid or '-':<8} {self.state.value:<8} "
            f"restarts={self.restarts}"
        )
        return f"{line}  {detail}" if detail else line


@dataclass
class Supervisor:
    """Keeps `specs` running until SIGTERM/SIGINT; `run()` returns the exit code.

    :param env: the children's environment (the Redis URL is passed this way).
    :param grace_s: how long children get to exit after SIGTERM before they are forced.
    :param say: receives each status line.
    """

    specs: Sequence[ChildSpec]
    env: Mapping[str, str]
    grace_s: float
    say: Callable[[str], None]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    children: list[Child] = field(init=False)
    _signals: list[signal.Signals] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.children = [Child(spec) for spec in self.specs]

    def run(self) -> int:
        """Start every child, keep them running, stop them all on the first signal.

        0 when every child exited by itself within the grace period, with code 0; else 1.
        """
        restore = on_stop_signals(self._signals.append)
        try:
            for child in self.children:
                self._start(child)
            while not self._signals:
                self._restart_exited(time.monotonic())
                time.sleep(POLL_S)
            return self._stop_all()
        finally:
            restore()
            self._kill_all()  # nothing outlives the supervisor, even after an error

    def _start(self, child: Child) -> None:
        child.started_at_s = time.monotonic()
        child.exit_code = None
        try:
            child.process = subprocess.Popen(
                child.spec.argv, env=dict(self.env), stdin=subprocess.DEVNULL, process_group=0
            )
        except OSError as e:
            child.process = None
            self._schedule_restart(child, child.started_at_s, f"cannot start: {e}")
            return
        child.state = State.RUNNING
        self.say(child.status_line())

    def _restart_exited(self, now_s: float) -> None:
        for child in self.children:
            if child.state is State.RUNNING and child.process is not None:
                code = child.process.poll()
                if code is not None:
                    child.exit_code = code
                    self._schedule_restart(child, now_s, f"exited with {_describe(code)}")
            elif child.state is State.BACKOFF and now_s >= child.restart_at_s:
                child.restarts += 1
                self._start(child)

    def _schedule_restart(self, child: Child, now_s: float, why: str) -> None:
        ran_s = now_s - child.started_at_s
        stable = ran_s >= self.policy.stable_after_s
        child.exits_in_a_row = 1 if stable else child.exits_in_a_row + 1
        backoff_s = self.policy.backoff_s(child.exits_in_a_row)
        child.state = State.BACKOFF
        child.restart_at_s = now_s + backoff_s
        self.say(child.status_line(f"{why}; restart in {backoff_s:.1f} s"))

    def _stop_all(self) -> int:
        """SIGTERM to each running child, wait up to the grace period, then force."""
        for child in self.children:
            if child.state is State.RUNNING and child.process is not None:
                child.state = State.STOPPING
                _signal(child.process, signal.SIGTERM)
                self.say(child.status_line("SIGTERM sent"))
            elif child.state is State.BACKOFF:
                child.state = State.STOPPED
                child.exit_code = None
                self.say(child.status_line())
        deadline_s = time.monotonic() + self.grace_s
        while self._stopping() and time.monotonic() < deadline_s and len(self._signals) < 2:
            self._collect_exits()
            time.sleep(POLL_S)
        self._collect_exits()
        clean = not self._stopping()
        if not clean:
            self._force_stragglers()
        return 0 if clean and all(c.exit_code in (0, None) for c in self.children) else 1

    def _stopping(self) -> bool:
        return any(child.state is State.STOPPING for child in self.children)

    def _collect_exits(self) -> None:
        for child in self.children:
            if child.state is State.STOPPING and child.process is not None:
                code = child.process.poll()
                if code is not None:
                    child.exit_code = code
                    child.state = State.STOPPED
                    self.say(child.status_line(f"exited with {_describe(code)}"))

    def _force_stragglers(self) -> None:
        stragglers = [
            (child, child.process)
            for child in self.children
            if child.state is State.STOPPING and child.process is not None
        ]
        for _, process in stragglers:
            _signal(process, signal.SIGTERM)
        deadline_s = time.monotonic() + FORCE_KILL_AFTER_S
        while time.monotonic() < deadline_s and any(p.poll() is None for _, p in stragglers):
            time.sleep(POLL_S)
        for child, process in stragglers:
            _kill_group(process)
            child.exit_code = process.wait()
            child.state = State.KILLED
            self.say(child.status_line(f"did not stop within {self.grace_s:g} s"))

    def _kill_all(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                _kill_group(child.process)
                child.process.wait()


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (the child and what it started in it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _describe(code: int) -> str:
    if code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"
