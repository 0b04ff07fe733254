"""What may be wrong now, read from one status snapshot: the alert rules' inputs."""

from __future__ import annotations

from typing import Any

from worker.alerts.rules import Condition
from worker.levels import DriftStatus, Severity

DRIFT_SEVERITY = {DriftStatus.WARN: Severity.WARN, DriftStatus.CRITICAL: Severity.CRITICAL}


def conditions_of(
    status: dict[str, Any], *, last_dead_letters: int, max_lag: int
) -> list[Condition]:
    """Drift checks and targets, no predictions while the market is open, dead letters
    growing, consumer lag, missing heartbeats, environment faults holding a group up,
    unread entries deleted from a stream."""
    conditions = []
    drift = status.get("drift") or {}
    for name, check in (drift.get("checks") or {}).items():
        state = DriftStatus(check["status"])
        kind = "target" if name.startswith("target_") else "drift"
        label = name if kind == "target" else f"drift:{name}"
        summary = check_summary(name, check)
        active = state in DRIFT_SEVERITY
        conditions.append(
            Condition(label, active, DRIFT_SEVERITY.get(state, Severity.WARN), summary)
        )
    conditions += input_and_accuracy_conditions(status)
    last_hour = ((status.get("windows") or {}).get("1h") or {}).get("total_predictions")
    conditions.append(
        Condition(
            "no_predictions",
            # outside market hours (ML_MARKET_HOURS) silence is the normal state
            active=bool(status.get("market_open", True)) and last_hour == 0,
            severity=Severity.WARN,
            summary="no prediction counted in the last hour while the market is open",
        )
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
        # mlmon never trims past what a group read, so this is someone else's XADD MAXLEN,
        # XTRIM or XDEL: those events are gone for this group
        conditions.append(
            Condition(
                f"entries_lost:{g['group']}:{g['stream']}",
                active=bool(g.get("deleted_unread")),
                severity=Severity.CRITICAL,
                summary=f"entries of {g['stream']} were deleted before group {g['group']} "
                "read them (a trim by a producer or an operator)",
            )
        )
    return conditions


def input_and_accuracy_conditions(status: dict[str, Any]) -> list[Condition]:
    """Feature drift and data quality (one condition each, whatever the feature names:
    alert names stay a closed set) and the accuracy checks. Not `drift:`-named: a broken
    input asks for a fix of the data, not for retraining on it."""
    conditions = []
    features = status.get("features") or {}
    if features.get("available"):
        rows = features.get("features") or []
        drifted = [r for r in rows if DriftStatus(r["drift_status"]).alarming]
        worst = max(
            (DriftStatus(r["drift_status"]) for r in drifted), key=lambda s: s.rank, default=None
        )
        top = ", ".join(f"{r['feature']!r} PSI {_figure(r['psi'])}" for r in drifted[:5])
        conditions.append(
            Condition(
                "features:drift",
                active=bool(drifted),
                severity=DRIFT_SEVERITY.get(worst, Severity.WARN) if worst else Severity.WARN,
                summary=f"{len(drifted)} feature(s) drifted from the baseline: {top or 'none'}",
            )
        )
        failures = features.get("quality_failures") or []
        listed = ", ".join(f"{f['check']} ({f['feature']!r})" for f in failures[:5])
        critical = any(f["status"] == DriftStatus.CRITICAL for f in failures)
        conditions.append(
            Condition(
                "features:data_quality",
                active=bool(failures),
                severity=Severity.CRITICAL if critical else Severity.WARN,
                summary=f"{len(failures)} data-quality failure(s): {listed or 'none'}",
            )
        )
    accuracy = status.get("accuracy") or {}
    for name, check in (accuracy.get("checks") or {}).items():
        conditions.append(
            Condition(
                f"accuracy:{name}",
                active=DriftStatus(check["status"]).alarming,
                severity=Severity.WARN,
                summary=check_summary(name, check),
            )
        )
    return conditions


def check_summary(name: str, check: dict[str, Any]) -> str:
    """The quantity the check's thresholds apply to, beside them, then the other figures:
    `verdict_chi_square: p_value 3.1e-06 (warn < 0.001, critical < 1.0e-04); ...`."""
    comparison = check.get("comparison", "")
    limits = f"warn {comparison} {_figure(check.get('threshold'))}"
    if check.get("critical_threshold") is not None:
        limits += f", critical {comparison} {_figure(check['critical_threshold'])}"
    text = f"{name}: {check.get('measure', 'value')} {_figure(check.get('value'))} ({limits})"
    extras = []
    if check.get("baseline") is not None:
        extras.append(f"baseline {_figure(check['baseline'])}, now {_figure(check['current'])}")
    if check.get("p_value") is not None and check.get("measure") != "p_value":
        extras.append(f"p_value {_figure(check['p_value'])}")
    if check.get("effect") is not None:
        extras.append(f"{check['effect_measure']} {_figure(check['effect'])}")
    if check.get("statistic") is not None:
        extras.append(f"statistic {_figure(check['statistic'])}")
    if check.get("reference_mean") is not None:
        extras.append(f"running mean {_figure(check['reference_mean'])}")
    return "; ".join([text, *extras])


def _figure(value: object) -> str:
    if not isinstance(value, float):
        return "n/a" if value is None else str(value)
    return f"{value:.1e}" if 0 < abs(value) < 0.001 else f"{value:.3f}"
