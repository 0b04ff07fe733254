"""Accuracy checks from joined outcomes: the model's accuracy, against its own past, the
rules, and its confidences.

Pure functions of feedback counter dicts (`worker.counters.feedback`), per UTC day
windows: the last 7 days, and the 23 days before them as the reference period. Each says
`insufficient data` below `min_outcomes` outcomes in every sample it compares:

- `ml_accuracy_drop`: realized ML accuracy of the last 7 days below that of the
  reference period by more than `accuracy_drop`, one-sided two-proportion test
  p < P_WARN;
- `ml_below_rules`: ML accuracy below rule accuracy over 7 days, p < P_WARN;
- `calibration_error`: the expected calibration error over 7 days above its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from worker.counters.feedback import summarize_calibration
from worker.drift.statistics import proportion_drop_p
from worker.drift.thresholds import P_WARN
from worker.levels import DriftStatus

OK, WARN, INSUFFICIENT = DriftStatus.OK, DriftStatus.WARN, DriftStatus.INSUFFICIENT


@dataclass(frozen=True)
class AccuracyConfig:
    """Thresholds; `min_outcomes` is `ML_DRIFT_MIN_SAMPLES`."""

    min_outcomes: int = 100
    accuracy_drop: float = 0.1
    calibration_error: float = 0.1


def _drop_row(
    hits: tuple[int, int], reference: tuple[int, int], threshold: float, min_n: int
) -> dict[str, Any]:
    (right, n), (ref_right, ref_n) = hits, reference
    row: dict[str, Any] = {"measure": "drop", "threshold": threshold, "comparison": ">"}
    if n < min_n or ref_n < min_n:
        return row | {
            "status": INSUFFICIENT,
            "value": None,
            "reason": f"fewer than {min_n} outcomes",
        }
    drop = ref_right / ref_n - right / n
    p = proportion_drop_p(ref_right, ref_n, right, n)
    status = WARN if drop > threshold and p < P_WARN else OK
    return row | {
        "status": status,
        "value": drop,
        "current": right / n,
        "reference": ref_right / ref_n,
        "p_value": p,
    }


def run_accuracy_checks(
    recent: Mapping[str, int], reference: Mapping[str, int], config: AccuracyConfig
) -> dict[str, Any]:
    """The `accuracy` section: expected vs realized accuracy, calibration, and checks."""
    calibration = summarize_calibration(recent)
    checks = {
        "ml_accuracy_drop": _drop_row(
            (recent.get("ml:right", 0), recent.get("ml:n", 0)),
            (reference.get("ml:right", 0), reference.get("ml:n", 0)),
            config.accuracy_drop,
            config.min_outcomes,
        ),
        "ml_below_rules": _drop_row(
            (recent.get("ml:right", 0), recent.get("ml:n", 0)),
            (recent.get("rule:right", 0), recent.get("rule:n", 0)),
            0.0,
            config.min_outcomes,
        ),
    }
    error = calibration["calibration_error"]
    enough = calibration["outcomes"] >= config.min_outcomes
    checks["calibration_error"] = {
        "status": (WARN if error > config.calibration_error else OK) if enough else INSUFFICIENT,
        "measure": "expected_calibration_error",
        "value": error if enough else None,
        "threshold": config.calibration_error,
        "comparison": ">",
    }
    statuses = [c["status"] for c in checks.values()]
    return {
        "available": True,
        "window": "7d",
        "reference_window": "the 23 days before the last 7",
        "min_outcomes": config.min_outcomes,
        **calibration,
        "checks": checks,
        "severity": max(statuses, key=lambda s: s.rank),
    }
