"""What may be wrong now, read from one status snapshot: the alert rules' inputs."""

from __future__ import annotations

from typing import Any

from worker.alerts.rules import Condition
from worker.levels import DriftStatus, Severity

DRIFT_SEVERITY = {DriftStatus.WARN: Severity.WARN, DriftStatus.CRITICAL: Severity.CRITICAL}


def conditions_of(
    status: dict[str, Any], *, last_dead_letters: int, max_lag: int
) -> list[Condition]:
    """Drift checks and targets, dead letters growing, consumer lag, missing heartbeats,
    environment faults holding a group up."""
    conditions = []
    drift = status.get("drift") or {}
    for name, check in (drift.get("checks") or {}).items():
        state = DriftStatus(check["status"])
        kind = "target" if name.startswith("target_") else "drift"
        label = name if kind == "target" else f"drift:{name}"
        current, base = _figure(check.get("current")), _figure(check.get("baseline"))
        threshold = _figure(check.get("threshold"))
        summary = f"{name}: current {current}, baseline {base}, threshold {threshold}"
        active = state in DRIFT_SEVERITY
        conditions.append(
            Condition(label, active, DRIFT_SEVERITY.get(state, Severity.WARN), summary)
        )
    dead = int(status.get("dead_letters", 0))
    conditions.append(
        Condition(
            "dead_letters_growing",
            active=dead > last_dead_letters,
            severity=Severity.WARN,
            summary=f"{dead - last_dead_letters} new dead letters ({dead} in all)",
        )
    )
    groups = status.get("consumer_groups") or []
    for group in sorted({g["group"] for g in groups}):
        live = any(g["live_consumers"] for g in groups if g["group"] == group)
        conditions.append(
            Condition(
                f"heartbeat:{group}",
                active=not live,
                severity=Severity.CRITICAL,
                summary=f"group {group} has no live consumer",
            )
        )
    faulted = {f["group"]: f for f in status.get("environment_faults") or []}
    for group in sorted({g["group"] for g in groups} | set(faulted)):
        fault = faulted.get(group)
        conditions.append(
            Condition(
                f"fault:{group}",
                active=fault is not None,
                severity=Severity.CRITICAL,
                summary=f"group {group} is held up, its entries pending: "
                + (fault["error"] if fault else "no fault"),
            )
        )
    for g in groups:
        lag = g.get("lag") or 0
        conditions.append(
            Condition(
                f"lag:{g['group']}:{g['stream']}",
                active=lag > max_lag,
                severity=Severity.WARN,
                summary=f"group {g['group']} is {lag} entries behind on {g['stream']}",
            )
        )
    return conditions


def _figure(value: object) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
