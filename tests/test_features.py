"""Per-feature counters and checks: the field encoding (property tests), the fine bins,
the quantile merge, and the checks on counters built the way the worker builds them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from worker.alerts.conditions import input_and_accuracy_conditions
from worker.counters.features import (
    FEATURE_PREFIX,
    TOP_BIN,
    FeatureFields,
    bin_lower_edge,
    bin_upper_edge,
    decode_name,
    encode_name,
    feature_histograms,
    fine_bin,
)
from worker.drift.features import FeatureConfig, holm, merge, quantile_cuts, run_feature_checks
from worker.status.exporter_features import feature_families, label
from worker.status.text_features import NAME_CHARS, shown_name

names = st.text(min_size=1, max_size=64)


@given(names)
def test_an_encoded_name_has_no_separator_and_decodes_back(name: str) -> None:
    encoded = encode_name(name)
    assert ":" not in encoded and "\n" not in encoded and "," not in encoded
    assert encoded.isascii() and encoded.isprintable()
    assert decode_name(encoded) == name


@given(st.dictionaries(names, st.floats(allow_nan=False), min_size=1, max_size=20))
def test_fields_read_back_as_the_same_features_and_bins(features: dict[str, float]) -> None:
    fields = FeatureFields()
    fields.record(dict.fromkeys(features, True))
    ones: list[str] = []
    fields.add(features, ones)
    assert all(f.startswith(FEATURE_PREFIX) for f in ones[1:])
    histograms = feature_histograms({field: 1 for field in ones})
    assert histograms == {name: {fine_bin(v): 1} for name, v in features.items()}


@given(
    st.text(min_size=1).map(
        lambda s: s.encode("utf-8", "surrogatepass").decode("utf-8", "surrogateescape")
    )
)
def test_names_that_are_not_utf8_still_encode(name: str) -> None:
    encoded = encode_name(name)
    assert ":" not in encoded and encoded.isascii()
    assert shown_name(decode_name(encoded)).isprintable()


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_fine_bins_keep_the_order_of_values(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert fine_bin(low) <= fine_bin(high)
    assert -TOP_BIN <= fine_bin(low) <= TOP_BIN


@given(st.floats(min_value=2.0**-19, max_value=2.0**63), st.booleans())
def test_a_value_lies_in_its_bin(magnitude: float, negative: bool) -> None:
    value = -magnitude if negative else magnitude
    fine = fine_bin(value)
    if negative:
        assert bin_upper_edge(fine - 1) < value <= bin_upper_edge(fine)
    else:
        assert bin_lower_edge(fine) <= value < bin_upper_edge(fine)


def test_hostile_names_are_shown_escaped_and_cut() -> None:
    assert shown_name("a\nb") == "a\\nb"
    assert len(shown_name("x" * 10_000)) == NAME_CHARS


def test_names_beyond_the_cap_count_as_unmonitored() -> None:
    fields = FeatureFields()
    fields.record({"a": True, "b": False})
    ones: list[str] = []
    fields.add({"a": 1.0, "b": 2.0}, ones)
    assert ones == ["featured", f"f:a:{fine_bin(1.0)}", "features_unmonitored"]


def test_quantile_cuts_populate_every_merged_bin() -> None:
    rng = np.random.default_rng(3)
    histogram: dict[int, int] = {}
    for value in rng.lognormal(0, 2, 5_000):
        histogram[fine_bin(float(value))] = histogram.get(fine_bin(float(value)), 0) + 1
    cuts = quantile_cuts(histogram)
    merged = merge(histogram, cuts)
    assert len(cuts) == 10 and min(merged) > 0 and sum(merged) == 5_000
    assert max(merged) < 0.12 * 5_000


def test_holm_adjusts_step_down() -> None:
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == {"a": 0.03, "b": 0.06, "c": 0.06}


def counters(
    rng: np.random.Generator, count: int, *, shift: float = 0.0, missing: float = 0.0
) -> dict[str, int]:
    fields = FeatureFields()
    fields.record({f"x{i}": True for i in range(5)})
    total = {"predictions": count}
    for _ in range(count):
        features = {f"x{i}": float(rng.normal(100 * i, 10)) for i in range(5)}
        features["x1"] += shift * 10
        if rng.random() < missing:
            del features["x2"]
        ones: list[str] = []
        fields.add(features, ones)
        for field in ones:
            total[field] = total.get(field, 0) + 1
    return total


def test_checks_flag_a_shift_as_drift_and_a_gap_as_data_quality() -> None:
    rng = np.random.default_rng(5)
    report = run_feature_checks(
        counters(rng, 1_000), counters(rng, 1_000, shift=1.0, missing=0.3), FeatureConfig()
    )
    assert report["drifted"] == ["x1"]
    assert report["quality_failures"] == [{"feature": "x2", "check": "missing", "status": "warn"}]


def test_checks_without_a_baseline_or_enough_data_say_so() -> None:
    rng = np.random.default_rng(6)
    assert (
        run_feature_checks(None, counters(rng, 500), FeatureConfig())["status"]
        == "insufficient data"
    )
    few = run_feature_checks(counters(rng, 500), counters(rng, 50), FeatureConfig())
    assert few["status"] == "insufficient data"


def test_a_disappeared_and_a_new_feature_are_data_quality_failures() -> None:
    rng = np.random.default_rng(8)
    base, now = counters(rng, 500), counters(rng, 500)
    gone = {k: v for k, v in now.items() if not k.startswith("f:x4:")}
    now_new = gone | {"f:extra:1": 400}
    report = run_feature_checks(base, now_new, FeatureConfig())
    checks = {(f["feature"], f["check"]) for f in report["quality_failures"]}
    assert checks == {("x4", "disappeared"), ("extra", "new_feature")}


@given(st.lists(names, min_size=1, max_size=5, unique=True))
def test_any_feature_name_is_a_valid_prometheus_label(feature_names: list[str]) -> None:
    quality = {check: "ok" for check in ("missing", "out_of_range", "disappeared", "new_feature")}
    rows = [
        {"feature": n, "drift_status": "warn", "quality": quality, "psi": 0.5, "missing_share": 0.1}
        for n in feature_names
    ]
    section = {"available": True, "features": rows, "monitored": feature_names, "status": "warn"}
    registry = CollectorRegistry(auto_describe=False)

    class Fixed:
        def collect(self) -> Iterator[Metric]:
            yield from feature_families(section)

    registry.register(Fixed())  # type: ignore[arg-type]
    parsed = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    psi_labels = {s.labels["feature"] for s in parsed["mlmon_feature_psi"].samples}
    assert psi_labels == {label(n) for n in feature_names}


def test_feature_and_accuracy_conditions_keep_a_closed_set_of_alert_names() -> None:
    rng = np.random.default_rng(9)
    features = run_feature_checks(
        counters(rng, 1_000), counters(rng, 1_000, shift=1.0, missing=0.3), FeatureConfig()
    )
    status = {
        "features": {"available": True, **features},
        "accuracy": {"checks": {"ml_below_rules": {"status": "warn", "measure": "drop"}}},
    }
    conditions = {c.name: c for c in input_and_accuracy_conditions(status)}
    assert set(conditions) == {"features:drift", "features:data_quality", "accuracy:ml_below_rules"}
    assert all(c.active for c in conditions.values())
    assert "'x1' PSI" in conditions["features:drift"].summary
    assert "missing ('x2')" in conditions["features:data_quality"].summary


def test_a_feature_constant_in_the_baseline_moved_wholesale_is_a_critical_failure() -> None:
    """One baseline bin leaves nothing to compare bins with: the values beyond the
    baseline's range are what says it moved, at the critical level when most are."""

    def constant(value: float, count: int) -> dict[str, int]:
        fields = FeatureFields()
        fields.record({"x": True})
        total = {"predictions": count}
        for _ in range(count):
            ones: list[str] = []
            fields.add({"x": value}, ones)
            for field in ones:
                total[field] = total.get(field, 0) + 1
        return total

    report = run_feature_checks(constant(0.0, 1_000), constant(1e6, 1_000), FeatureConfig())

    assert report["quality_failures"] == [
        {"feature": "x", "check": "out_of_range", "status": "critical"}
    ]
    assert report["status"] == "critical"
