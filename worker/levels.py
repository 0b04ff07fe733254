"""Closed sets shared across concerns: how bad something is, and a drift check's status."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    WARN = "warn"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self]


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARN: 1, Severity.CRITICAL: 2}


def worst_severity(severities: Iterable[str]) -> Severity:
    """The highest of `severities` (names as stored); INFO for none."""
    return max((Severity(s) for s in severities), key=lambda s: s.rank, default=Severity.INFO)


class DriftStatus(StrEnum):
    """A drift check's verdict. `insufficient data` ranks with `ok`: no data is no alarm."""

    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    INSUFFICIENT = "insufficient data"

    @property
    def rank(self) -> int:
        return {DriftStatus.WARN: 1, DriftStatus.CRITICAL: 2}.get(self, 0)

    @property
    def alarming(self) -> bool:
        return self in (DriftStatus.WARN, DriftStatus.CRITICAL)
