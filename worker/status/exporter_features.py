"""Prometheus families of the `features` and `accuracy` sections of a status snapshot.

The feature name is a label value: Prometheus takes any UTF-8 there, and the client
library escapes backslashes, quotes and newlines, so a name needs only to be valid UTF-8
(names that were not come decoded with U+FFFD) and bounded: producers' names are at most
64 characters, and the series per family at most `ML_FEATURES_MONITORED` (64 by default)
times the checks, since only monitored features have counters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

STATUS_VALUES = {"ok": 0, "warn": 1, "critical": 2, "insufficient data": -1}
NAME_CHARS = 64


def label(name: str | None) -> str:
    """A feature name as a label value: valid UTF-8, at most `NAME_CHARS` characters."""
    text = (name or "").encode("utf-8", "replace").decode("utf-8")
    return text[:NAME_CHARS]


def feature_families(features: Mapping[str, Any]) -> Iterator[Metric]:
    if not features.get("available"):
        return
    status = GaugeMetricFamily(
        "mlmon_feature_check_status",
        "Per-feature check: drift, missing, out_of_range, disappeared, new_feature; "
        "0 ok, 1 warn, 2 critical.",
        labels=["feature", "check"],
    )
    psi = GaugeMetricFamily(
        "mlmon_feature_psi",
        "PSI of a feature's window against its baseline, on the baseline's quantile bins.",
        labels=["feature"],
    )
    missing = GaugeMetricFamily(
        "mlmon_feature_missing_share",
        "Share of predictions with features that lacked this one, in the drift window.",
        labels=["feature"],
    )
    for row in features.get("features", []):
        name = label(row["feature"])
        status.add_metric([name, "drift"], STATUS_VALUES[row["drift_status"]])
        for check, value in row["quality"].items():
            status.add_metric([name, check], STATUS_VALUES[value])
        if row.get("psi") is not None:
            psi.add_metric([name], row["psi"])
        if row.get("missing_share") is not None:
            missing.add_metric([name], row["missing_share"])
    yield status
    yield psi
    yield missing
    yield GaugeMetricFamily(
        "mlmon_features_monitored",
        "Feature names whose distributions are counted (at most ML_FEATURES_MONITORED).",
        value=len(features.get("monitored", [])),
    )
    yield GaugeMetricFamily(
        "mlmon_features_status",
        "Worst feature check, including predictions without features and names beyond "
        "the monitored set: 0 ok, 1 warn, 2 critical, -1 insufficient data.",
        value=STATUS_VALUES[features["status"]],
    )


def accuracy_families(accuracy: Mapping[str, Any]) -> Iterator[Metric]:
    if not accuracy.get("available"):
        return
    window = accuracy["window"]
    figures = GaugeMetricFamily(
        "mlmon_ml_accuracy_expected_realized",
        "ML accuracy over the window's joined outcomes: expected (mean ML confidence) and "
        "realized; absent without outcomes.",
        labels=["kind", "window"],
    )
    for kind in ("expected", "realized"):
        if accuracy.get(f"{kind}_accuracy") is not None:
            figures.add_metric([kind, window], accuracy[f"{kind}_accuracy"])
    yield figures
    error = GaugeMetricFamily(
        "mlmon_calibration_error",
        "Expected calibration error of ML confidences over the window's joined outcomes "
        "(bins of 0.1); absent without outcomes.",
        labels=["window"],
    )
    if accuracy.get("calibration_error") is not None:
        error.add_metric([window], accuracy["calibration_error"])
    yield error
    checks = GaugeMetricFamily(
        "mlmon_accuracy_check_status",
        "Accuracy checks (ml_accuracy_drop, ml_below_rules, calibration_error): 0 ok, "
        "1 warn, -1 insufficient data.",
        labels=["check"],
    )
    for name, check in accuracy.get("checks", {}).items():
        checks.add_metric([name], STATUS_VALUES[check["status"]])
    yield checks
