"""What the numbers depend on besides the code: the machine, the versions, and how busy
other processes kept the CPUs while a section ran."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from worker.settings import mask_url


def environment_facts(client: redis.Redis, url: str, private: bool) -> dict[str, Any]:
    """What the numbers depend on: the machine and the versions (the code: see run.py)."""
    server: dict[str, Any] = client.info("server")
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "redis_version": server.get("redis_version"),
        "redis": "private redis-server, no persistence" if private else mask_url(url),
    }


def _cpu_model() -> str:
    """The CPU the numbers were measured on, for comparing results across machines."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


@dataclass(frozen=True)
class CpuSample:
    """Busy CPU seconds of the whole machine and of this benchmark (itself, its reaped
    children, its private redis-server), so their difference is other processes' load."""

    machine_s: float
    ours_s: float

    @classmethod
    def take(cls, redis_pid: int | None) -> CpuSample:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours_s = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        return cls(_machine_busy_s(), ours_s + _process_cpu_s(redis_pid))

    def others_since(self, earlier: CpuSample) -> float:
        return max(0.0, (self.machine_s - earlier.machine_s) - (self.ours_s - earlier.ours_s))


def _machine_busy_s() -> float:
    """Non-idle CPU seconds since boot, summed over CPUs (0 without /proc)."""
    with contextlib.suppress(OSError):
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _process_cpu_s(pid: int | None) -> float:
    """utime + stime of a running process (0 when unknown)."""
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def load_note(other_cpu_s: dict[str, float], elapsed_s: float) -> str:
    """A line under the table: how busy the rest of the machine was, which skews numbers."""
    other_s = sum(other_cpu_s.values())
    capacity_s = elapsed_s * (os.cpu_count() or 1)
    busiest = max(other_cpu_s.items(), key=lambda item: item[1], default=("", 0.0))
    note = (
        f"Other processes on this machine used {other_s:.0f} CPU-seconds during the run "
        f"({other_s / max(capacity_s, 1e-9):.0%} of {os.cpu_count()} CPUs over {elapsed_s:.0f} s)"
    )
    if busiest[1] > 0:
        note += f"; most during `{busiest[0]}` ({busiest[1]:.0f} CPU-s)"
    return note + "."
