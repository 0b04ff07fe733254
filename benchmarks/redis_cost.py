"""What a run costs Redis: CPU time of the server process and the script calls, and the
memory of idempotency marks and of the feedback index, per event."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from benchmarks.storage_memory import key_families


@dataclass(frozen=True)
class CpuSample:
    """The server's CPU time (all threads, user + system) and its script calls' time."""

    process_s: float
    scripts_us: int
    script_calls: int

    @classmethod
    def take(cls, client: redis.Redis) -> CpuSample:
        cpu = client.info("cpu")
        stats = client.info("commandstats")
        scripts = [stats.get(f"cmdstat_{name}", {}) for name in ("evalsha", "eval")]
        return cls(
            float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
            sum(int(script.get("usec", 0)) for script in scripts),
            sum(int(script.get("calls", 0)) for script in scripts),
        )

    def per_event_us(self, later: CpuSample, events: int) -> tuple[float, float]:
        """(server CPU, time in scripts per `INFO commandstats`) per event, microseconds."""
        process_us = (later.process_s - self.process_s) * 1e6 / events
        return process_us, (later.scripts_us - self.scripts_us) / events

    def mean_script_ms(self, later: CpuSample) -> float:
        """How long a script call held the server, on average: a batch's atomic step."""
        calls = later.script_calls - self.script_calls
        return (later.scripts_us - self.scripts_us) / 1000 / calls if calls else 0.0


def family_bytes(client: redis.Redis, prefix: str, family: str) -> float:
    """Memory of the keys `<prefix>:<family>:*` (MEMORY USAGE, sampled when many)."""
    found = key_families(client, prefix).get(family)
    return found.total_bytes if found is not None else 0.0


def mark_groups(client: redis.Redis, prefix: str) -> int:
    """How many groups hold idempotency marks (`<prefix>:dedup:<group>:...`)."""
    groups = set()
    start = len(prefix) + len(":dedup:")
    for key in client.scan_iter(match=f"{prefix}:dedup:*", count=10_000):
        groups.add(key[start:].split(b":", 1)[0])
    return len(groups)
