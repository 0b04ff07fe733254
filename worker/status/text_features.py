"""The FEATURES and ACCURACY sections of the text dashboard.

Feature names come from producers: they are shown escaped (no control character reaches
the terminal) and cut to `NAME_CHARS`.
"""

from __future__ import annotations

from typing import Any

NAME_CHARS = 32
FEATURES_SHOWN = 10


def shown_name(name: str | None) -> str:
    """A feature name safe to print: escapes for anything unprintable, cut to fit."""
    if name is None:
        return "(all)"
    escaped = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)
    return escaped if len(escaped) <= NAME_CHARS else escaped[: NAME_CHARS - 1] + "…"


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def feature_lines(features: dict[str, Any]) -> list[str]:
    if not features.get("available"):
        return ["not available yet"]
    monitored = features["monitored"]
    lines = [
        f"Monitored features: {len(monitored)} of at most {features['monitored_cap']}; "
        f"{features['window_featured']} predictions with features in the last "
        f"{features['window']}, baseline {features['baseline_featured']}"
    ]
    if features["status"] == "insufficient data":
        return [*lines, f"Insufficient data: {features['reason']}"]
    drifted = ", ".join(shown_name(n) for n in features["drifted"]) or "none"
    lines.append(
        f"Drifted features: {drifted} (PSI >= {features['psi_threshold']} and Holm-adjusted "
        f"p < {features['p_threshold']} over {features['tested']} features)"
    )
    lines.append(f"{'feature':<33}{'psi':>7}{'p (adj.)':>10}{'missing':>9}{'range':>7}  status")
    for row in features["features"][:FEATURES_SHOWN]:
        p = row.get("p_value")
        lines.append(
            f"{shown_name(row['feature']):<33}{_value(row.get('psi')):>7}"
            f"{'n/a' if p is None else f'{p:.1e}':>10}"
            f"{_value(row.get('missing_share')):>9}{_value(row.get('out_of_range_share')):>7}"
            f"  {row['status']}"
        )
    for failure in features["quality_failures"]:
        lines.append(
            f"Data quality {failure['status'].upper()}: {failure['check']} "
            f"({shown_name(failure['feature'])})"
        )
    return lines


def accuracy_lines(accuracy: dict[str, Any]) -> list[str]:
    if not accuracy.get("available"):
        return ["not available yet"]
    lines = [
        f"Last {accuracy['window']}, {accuracy['outcomes']} joined outcomes with an ML "
        f"confidence: expected accuracy {_value(accuracy['expected_accuracy'])}, realized "
        f"{_value(accuracy['realized_accuracy'])}, calibration error "
        f"{_value(accuracy['calibration_error'])}"
    ]
    for name, check in accuracy["checks"].items():
        lines.append(
            f"{name:<23}{check['measure']:<27}{_value(check.get('value')):>9}"
            f"  {check['comparison']} {check['threshold']}  {check['status']}"
        )
    return lines
