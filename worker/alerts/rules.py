"""The alert state machine: pure, so its timing rules are tested without waiting.

A condition must hold for `for_s` before its alert fires; a firing alert is not sent again
within `repeat_s`; when its condition clears, a "resolved" notice goes out; everything
that fires or resolves in one evaluation is grouped into one notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from worker.levels import Severity


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Condition:
    """One thing that may be wrong now."""

    name: str
    active: bool
    severity: Severity
    summary: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity(self.severity))  # a name is accepted too


@dataclass
class AlertState:
    since: float | None = None  # when the condition started holding
    firing: bool = False
    last_sent: float | None = None
    severity: Severity = Severity.WARN

    def __post_init__(self) -> None:
        self.severity = Severity(self.severity)  # stored state holds the name as text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Alert:
    name: str
    severity: Severity
    summary: str
    status: AlertStatus

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evaluation:
    alerts: list[Alert] = field(default_factory=list)
    state: dict[str, AlertState] = field(default_factory=dict)


def evaluate(
    conditions: list[Condition],
    state: Mapping[str, AlertState],
    *,
    now_s: float,
    for_s: float,
    repeat_s: float,
) -> Evaluation:
    """The alerts to send now, and the new state. A severity rise sends at once."""
    result = Evaluation(state={name: AlertState(**s.as_dict()) for name, s in state.items()})
    for condition in conditions:
        current = result.state.setdefault(condition.name, AlertState())
        if not condition.active:
            if current.firing:
                result.alerts.append(
                    Alert(condition.name, current.severity, condition.summary, AlertStatus.RESOLVED)
                )
            result.state[condition.name] = AlertState()
            continue
        if current.since is None:
            current.since = now_s
        if now_s - current.since < for_s:
            continue
        escalated = current.firing and condition.severity.rank > current.severity.rank
        due = current.last_sent is None or now_s - current.last_sent >= repeat_s
        if not current.firing or escalated or due:
            result.alerts.append(
                Alert(condition.name, condition.severity, condition.summary, AlertStatus.FIRING)
            )
            current.last_sent = now_s
        current.firing, current.severity = True, condition.severity
    return result
