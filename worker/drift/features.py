"""Feature drift and data quality: a window's per-feature counters against the baseline's.

Pure functions of two counter dicts (fields of `worker.counters.features`). Per feature:

- drift: the fine bins are merged into `QUANTILE_BINS` bins at the baseline's quantiles
  (every merged bin populated in the baseline; window values outside the baseline's range
  join the end bins), then PSI (the effect size) and a chi-square test of homogeneity
  (the significance). Drift needs both, as the output checks do; the p-values are
  Holm-adjusted over the features tested, so `P_WARN` bounds the chance that any of
  64 stable features alarms in a window, not each one.
- data quality: missing share up, out-of-range share up (values outside the baseline's
  fine-bin range), a feature that disappeared, a new feature, predictions without
  features when the baseline had them. Share checks need an effect past their threshold
  and a Holm-adjusted one-sided test.

Each needs `min_samples` featured predictions in the window and a baseline that carried
features; otherwise it is `insufficient data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from worker.counters.features import (
    FEATURED,
    UNMONITORED,
    bin_centre,
    bin_upper_edge,
    feature_histograms,
)
from worker.drift.statistics import chi_square_two_sample, proportion_drop_p, psi
from worker.drift.thresholds import P_CRITICAL, P_WARN, PSI_CRITICAL, PSI_WARN
from worker.levels import DriftStatus

OK, WARN, CRITICAL = DriftStatus.OK, DriftStatus.WARN, DriftStatus.CRITICAL
INSUFFICIENT = DriftStatus.INSUFFICIENT
QUANTILE_BINS = 10
OUT_OF_RANGE_CRITICAL_SHARE = 0.5


class FeatureCheck(StrEnum):
    """The per-feature checks, and the two about all features (`NO_FEATURES`,
    `UNMONITORED_FEATURES`)."""

    DRIFT = "drift"
    MISSING = "missing"
    OUT_OF_RANGE = "out_of_range"
    DISAPPEARED = "disappeared"
    NEW_FEATURE = "new_feature"
    NO_FEATURES = "no_features"
    UNMONITORED_FEATURES = "unmonitored_features"


DRIFT, MISSING, OUT_OF_RANGE = FeatureCheck.DRIFT, FeatureCheck.MISSING, FeatureCheck.OUT_OF_RANGE
QUALITY_CHECKS = (MISSING, OUT_OF_RANGE, FeatureCheck.DISAPPEARED, FeatureCheck.NEW_FEATURE)


@dataclass(frozen=True)
class FeatureConfig:
    """Thresholds: shares are absolute increases (0.05 is five points more missing)."""

    min_samples: int = 100
    missing_up: float = 0.05
    out_of_range_up: float = 0.02


def quantile_cuts(baseline: Mapping[int, int], bins: int = QUANTILE_BINS) -> list[int]:
    """The last fine bin of each merged bin: cut where the baseline's cumulative count
    passes each `1/bins` quantile, so every merged bin holds baseline values."""
    total = sum(baseline.values())
    cuts: list[int] = []
    running, level = 0, 1
    for fine in sorted(baseline):
        running += baseline[fine]
        if running * bins >= level * total:
            cuts.append(fine)
            level = running * bins // total + 1  # one fine bin may pass several quantiles
    return cuts


def merge(histogram: Mapping[int, int], cuts: Sequence[int]) -> list[int]:
    """Counts per merged bin; values beyond the last cut join the last bin."""
    merged = [0] * len(cuts)
    for fine, count in histogram.items():
        index = next((i for i, cut in enumerate(cuts) if fine <= cut), len(cuts) - 1)
        merged[index] += count
    return merged


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (step-down Bonferroni): the family-wise error rate holds."""
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    m = len(ordered)
    adjusted: dict[str, float] = {}
    running = 0.0
    for rank, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[name] = running
    return adjusted


def _level(effect_level: DriftStatus, p_adjusted: float) -> DriftStatus:
    significance = CRITICAL if p_adjusted < P_CRITICAL else WARN if p_adjusted < P_WARN else OK
    return min(effect_level, significance, key=lambda s: s.rank)


def _share_up_p(base_hits: int, base_total: int, hits: int, total: int) -> float:
    """One-sided p-value that the window's share of hits is above the baseline's."""
    return proportion_drop_p(base_total - base_hits, base_total, total - hits, total)


def _out_of_range_p(base_total: int, outside: int, total: int) -> float:
    """One-sided p-value of `outside` of `total` window values beyond the range of
    `base_total` baseline values of the same distribution.

    The share of a distribution beyond the range of n of its values is Beta(2, n - 1)
    (two spacings of n uniforms), whose survival is (1 - s)^(n-1) (1 + (n - 1) s); the
    window's share is first lowered by three of its binomial standard deviations, which
    makes the p-value conservative for small windows. (The range is kept in fine bins,
    a little wider than the values' own, which errs the same way.)
    """
    if base_total < 2 or not total:
        return 1.0
    share = max(0.0, (outside - 3 * math.sqrt(outside)) / total)
    b = base_total - 1
    return min(1.0, math.exp(b * math.log1p(-share)) * (1 + b * share)) if share < 1 else 0.0


def _feature_row(
    name: str,
    base: Mapping[int, int],
    now: Mapping[int, int],
    base_featured: int,
    featured: int,
) -> tuple[dict[str, Any], dict[str, float]]:
    """One feature's figures, and its raw p-values (adjusted across features later)."""
    base_n, n = sum(base.values()), sum(now.values())
    row: dict[str, Any] = {
        "feature": name,
        "baseline_count": base_n,
        "window_count": n,
        "baseline_missing_share": 1 - base_n / base_featured if base_featured else None,
        "missing_share": 1 - n / featured if featured else None,
    }
    p: dict[str, float] = {}
    if base_n and n:
        cuts = quantile_cuts(base)
        base_merged, now_merged = merge(base, cuts), merge(now, cuts)
        low, high = min(base), max(base)
        outside = sum(c for fine, c in now.items() if fine < low or fine > high)
        p[DRIFT] = chi_square_two_sample(base_merged, now_merged)[2]
        p[OUT_OF_RANGE] = _out_of_range_p(base_n, outside, n)
        row |= {
            "psi": psi(base_merged, now_merged),
            "bins": len(cuts),
            # the merged bins, for charts: upper edge of each (the last is open)
            "bin_upper_edges": [bin_upper_edge(cut) for cut in cuts[:-1]],
            "baseline_bins": base_merged,
            "window_bins": now_merged,
            "out_of_range_share": outside / n,
            "baseline_range": [bin_centre(low), bin_centre(high)],
        }
    if base_featured and featured and base_n:
        p[MISSING] = _share_up_p(base_featured - base_n, base_featured, featured - n, featured)
    return row, p


def _statuses(row: dict[str, Any], p_adjusted: Mapping[str, float], config: FeatureConfig) -> None:
    """Fill in each check's status on `row` from its effect and adjusted p-value."""
    quality: dict[FeatureCheck, DriftStatus] = dict.fromkeys(QUALITY_CHECKS, OK)
    drift = OK
    if "psi" in row:
        effect = CRITICAL if row["psi"] >= PSI_CRITICAL else WARN if row["psi"] >= PSI_WARN else OK
        drift = _level(effect, p_adjusted[DRIFT])
        share = row["out_of_range_share"]
        # most of the window beyond every baseline value: the feature moved wholesale (a
        # constant baseline has one bin, so the drift test cannot see it)
        effect = (
            CRITICAL
            if share >= OUT_OF_RANGE_CRITICAL_SHARE
            else WARN
            if share >= config.out_of_range_up
            else OK
        )
        quality[OUT_OF_RANGE] = _level(effect, p_adjusted[OUT_OF_RANGE])
    if MISSING in p_adjusted:
        up = row["missing_share"] - row["baseline_missing_share"]
        effect = WARN if up >= config.missing_up else OK
        quality[MISSING] = _level(effect, p_adjusted[MISSING])
    if row["baseline_count"] and not row["window_count"]:
        quality |= {FeatureCheck.DISAPPEARED: CRITICAL, MISSING: OK}  # one failure, its own name
    if row["window_count"] and not row["baseline_count"]:
        quality[FeatureCheck.NEW_FEATURE] = WARN
    row["drift_status"] = drift
    row["p_value"] = p_adjusted.get(DRIFT)
    row["quality"] = {check: status for check, status in quality.items()}
    row["quality_status"] = max(quality.values(), key=lambda s: s.rank)
    row["status"] = max((drift, row["quality_status"]), key=lambda s: s.rank)


def _no_features_check(
    baseline: Mapping[str, int], current: Mapping[str, int], config: FeatureConfig
) -> dict[str, Any]:
    """Predictions without features, when the baseline's carried them."""
    base_total, total = baseline.get("predictions", 0), current.get("predictions", 0)
    base_bare = base_total - baseline.get(FEATURED, 0)
    bare = total - current.get(FEATURED, 0)
    row: dict[str, Any] = {"measure": "share_up", "threshold": config.missing_up}
    if not base_total or not baseline.get(FEATURED) or total < config.min_samples:
        return row | {"status": INSUFFICIENT, "value": None}
    up = bare / total - base_bare / base_total
    effect = WARN if up >= config.missing_up else OK
    return row | {
        "status": _level(effect, _share_up_p(base_bare, base_total, bare, total)),
        "value": up,
        "share": bare / total,
        "baseline_share": base_bare / base_total,
    }


def run_feature_checks(
    baseline: Mapping[str, int] | None, current: Mapping[str, int], config: FeatureConfig
) -> dict[str, Any]:
    """Per-feature drift and data quality, the features ranked (drifted first, by PSI)."""
    featured = current.get(FEATURED, 0)
    base = baseline or {}
    base_featured = base.get(FEATURED, 0)
    report: dict[str, Any] = {
        "window_featured": featured,
        "baseline_featured": base_featured,
        "window_unmonitored": current.get(UNMONITORED, 0),
        "min_samples": config.min_samples,
        "p_threshold": P_WARN,
        "p_critical_threshold": P_CRITICAL,
        "psi_threshold": PSI_WARN,
        "psi_critical_threshold": PSI_CRITICAL,
        "multiple_testing": "holm",
        "no_features": _no_features_check(base, current, config),
    }
    if not base_featured or featured < config.min_samples:
        reason = (
            "no baseline with features: mlmon baseline set"
            if not base_featured
            else f"fewer than {config.min_samples} predictions with features"
        )
        return report | {
            "status": INSUFFICIENT,
            "reason": reason,
            "tested": 0,
            "features": [],
            "drifted": [],
            "quality_failures": [],
        }
    base_hist, now_hist = feature_histograms(base), feature_histograms(current)
    rows, p_values = [], {}
    for name in sorted(set(base_hist) | set(now_hist)):
        row, p = _feature_row(
            name, base_hist.get(name, {}), now_hist.get(name, {}), base_featured, featured
        )
        rows.append(row)
        p_values[name] = p
    adjusted = {
        check: holm({n: p[check] for n, p in p_values.items() if check in p})
        for check in (DRIFT, MISSING, OUT_OF_RANGE)
    }
    for row in rows:
        name = row["feature"]
        _statuses(row, {c: a[name] for c, a in adjusted.items() if name in a}, config)
    rows.sort(key=lambda r: (-r["drift_status"].rank, -(r.get("psi") or 0.0), r["feature"]))
    drifted = [r["feature"] for r in rows if r["drift_status"].alarming]
    failures = [
        {"feature": r["feature"], "check": check, "status": status}
        for r in rows
        for check, status in r["quality"].items()
        if status.alarming
    ]
    if report["no_features"]["status"] in (WARN, CRITICAL):
        failures.append(
            {
                "feature": None,
                "check": FeatureCheck.NO_FEATURES,
                "status": report["no_features"]["status"],
            }
        )
    if report["window_unmonitored"] and not base.get(UNMONITORED):
        failures.append(
            {"feature": None, "check": FeatureCheck.UNMONITORED_FEATURES, "status": WARN}
        )
    statuses = [r["status"] for r in rows] + [f["status"] for f in failures]
    return report | {
        "status": max(statuses, key=lambda s: s.rank) if statuses else OK,
        "tested": len(adjusted[DRIFT]),
        "features": rows,
        "drifted": drifted,
        "quality_failures": failures,
    }
