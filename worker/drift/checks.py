"""Drift checks: a current window of the metrics counters against a baseline snapshot.

Pure functions of two counter dicts (the fields of `worker.counters.metrics`), so they are
tested against reference computations and give the same answer wherever they run.

Each check is `ok`, `warn`, `critical`, or `insufficient data` (fewer than
`ML_DRIFT_MIN_SAMPLES` predictions in the window, or no baseline to compare with). The
baseline is a sample too, so a drift check alarms only when the change is both
significant (a two-sample test, p below `P_WARN` / `P_CRITICAL`) and large enough to
matter (an effect size past its threshold): at a few hundred events noise would alarm
without the test, and at a hundred thousand a trivial change would be "significant"
without the effect size. `benchmarks/drift_calibration.py` measures the false-alarm rates
and detection power these thresholds give.

Every row carries `measure` and `value`, the quantity its `threshold` and
`critical_threshold` apply to (`comparison` says which side alarms), and the other
figures (statistic, p-value, effect size) as extra fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from producer_sdk.vocabulary import Verdict
from worker.counters.metrics import CONFIDENCE_BINS, summarize
from worker.drift import page_hinkley
from worker.drift.statistics import (
    chi_square_two_sample,
    mean_drop_p,
    proportion_drop_p,
    psi,
    total_variation,
)
from worker.drift.thresholds import P_CRITICAL, P_WARN, PSI_CRITICAL, PSI_WARN
from worker.levels import DriftStatus

OK, WARN, CRITICAL = DriftStatus.OK, DriftStatus.WARN, DriftStatus.CRITICAL
INSUFFICIENT = DriftStatus.INSUFFICIENT
# total variation distance of the final-verdict mix: 0.05 is 5 points of verdicts moved
TVD_WARN, TVD_CRITICAL = 0.05, 0.1
VERDICTS = [v.value for v in Verdict]


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds (the ML_DRIFT_* and target settings; the same defaults)."""

    confidence_drop: float = 0.1
    agreement_drop: float = 0.15
    usage_drop: float = 0.15
    min_samples: int = 100
    ph_lambda: float = 5.0
    target_usage: float = 0.8
    target_agreement: float = 0.6
    target_confidence: float = 0.75


def _above(value: float, warn: float, critical: float) -> DriftStatus:
    return CRITICAL if value >= critical else WARN if value >= warn else OK


def _significance(p_value: float | None) -> DriftStatus:
    if p_value is None:
        return OK
    return CRITICAL if p_value < P_CRITICAL else WARN if p_value < P_WARN else OK


def _both(effect: DriftStatus, significance: DriftStatus) -> DriftStatus:
    """The lower of the two levels: drift needs a large change and a significant one."""
    return min(effect, significance, key=lambda s: s.rank)


def _p_fields(p_value: float | None) -> dict[str, Any]:
    return {"p_value": p_value, "p_threshold": P_WARN, "p_critical_threshold": P_CRITICAL}


def _insufficient(
    measure: str, threshold: float, critical: float, comparison: str
) -> dict[str, Any]:
    return {
        "status": INSUFFICIENT,
        "measure": measure,
        "value": None,
        "threshold": threshold,
        "critical_threshold": critical,
        "comparison": comparison,
    }


def confidence_moments(counters: Mapping[str, int]) -> tuple[int, float, float] | None:
    """(count, mean, variance) of ML confidence; the variance from the sum of squares,
    or from the histogram (bin centres) for counters kept before that sum existed."""
    n = counters.get("ml_confidence_count", 0)
    if not n:
        return None
    mean = counters.get("ml_confidence_sum_micro", 0) / 1_000_000 / n
    squares = counters.get("ml_confidence_sq_sum_micro")
    if squares is not None:
        return n, mean, max(0.0, squares / 1_000_000 / n - mean * mean) * n / max(n - 1, 1)
    histogram = distributions(counters)[1]
    binned = sum(histogram) or 1
    centres = [(i + 0.5) / CONFIDENCE_BINS for i in range(CONFIDENCE_BINS)]
    spread = sum(c * (x - mean) ** 2 for c, x in zip(histogram, centres, strict=True))
    return n, mean, spread / binned


def _drop_check(
    name: str,
    base: Mapping[str, Any] | None,
    now: Mapping[str, Any],
    threshold: float,
    p: float | None,
) -> dict[str, Any]:
    baseline = base[name] if base else None
    current = now[name]
    if baseline is None or current is None:
        row = _insufficient("drop", threshold, 2 * threshold, ">")
        return row | {"baseline": baseline, "current": current, "delta": None}
    drop = baseline - current
    effect = CRITICAL if drop > 2 * threshold else WARN if drop > threshold else OK
    return {
        "status": _both(effect, _significance(p)),
        "measure": "drop",
        "value": drop,
        "threshold": threshold,
        "critical_threshold": 2 * threshold,
        "comparison": ">",
        "baseline": baseline,
        "current": current,
        "delta": current - baseline,
        **_p_fields(p),
    }


def _target_check(current: float | None, target: float) -> dict[str, Any]:
    return {
        "status": INSUFFICIENT if current is None else WARN if current < target else OK,
        "measure": "rate",
        "value": current,
        "threshold": target,
        "critical_threshold": None,
        "comparison": "<",
        "current": current,
    }


def distributions(counters: Mapping[str, int]) -> tuple[list[int], list[int]]:
    """Final-verdict counts and the confidence histogram, in fixed order."""
    verdicts = [counters.get(f"final:{v}", 0) for v in VERDICTS]
    histogram = [counters.get(f"confidence_bin:{i}", 0) for i in range(CONFIDENCE_BINS)]
    return verdicts, histogram


def ml_verdicts(counters: Mapping[str, int]) -> list[int]:
    """The ML model's own verdict counts (the final verdict mixes in the rules')."""
    return [counters.get(f"ml:{v}", 0) for v in VERDICTS]


def _drop_checks(
    baseline: Mapping[str, int] | None, current: Mapping[str, int], config: DriftConfig
) -> dict[str, dict[str, Any]]:
    base = summarize(baseline) if baseline else None
    now = summarize(current)
    confidence_p = usage_p = agreement_p = None
    if baseline:
        base_moments, now_moments = confidence_moments(baseline), confidence_moments(current)
        if base_moments and now_moments:
            confidence_p = mean_drop_p(base_moments, now_moments)
        usage_p = proportion_drop_p(
            baseline.get("ml_used", 0),
            baseline.get("predictions", 0),
            current.get("ml_used", 0),
            current.get("predictions", 0),
        )
        agreement_p = proportion_drop_p(
            baseline.get("agreed", 0),
            baseline.get("compared", 0),
            current.get("agreed", 0),
            current.get("compared", 0),
        )
    return {
        "confidence_drop": _drop_check(
            "avg_ml_confidence", base, now, config.confidence_drop, confidence_p
        ),
        "agreement_drop": _drop_check(
            "agreement_rate", base, now, config.agreement_drop, agreement_p
        ),
        "usage_drop": _drop_check("ml_usage_rate", base, now, config.usage_drop, usage_p),
    }


def _psi_check(baseline_counts: Sequence[int], window_counts: Sequence[int]) -> dict[str, Any]:
    if not sum(baseline_counts) or not sum(window_counts):
        return _insufficient("psi", PSI_WARN, PSI_CRITICAL, ">=")
    value = psi(baseline_counts, window_counts)
    statistic, df, p_value = chi_square_two_sample(baseline_counts, window_counts)
    return {
        "status": _both(_above(value, PSI_WARN, PSI_CRITICAL), _significance(p_value)),
        "measure": "psi",
        "value": value,
        "threshold": PSI_WARN,
        "critical_threshold": PSI_CRITICAL,
        "comparison": ">=",
        **_p_fields(p_value),
        "statistic": statistic,
        "df": df,
    }


def _chi_square_check(
    baseline_counts: Sequence[int], window_counts: Sequence[int]
) -> dict[str, Any]:
    statistic, df, p_value = chi_square_two_sample(baseline_counts, window_counts)
    effect = total_variation(baseline_counts, window_counts)
    return {
        "status": _both(_significance(p_value), _above(effect, TVD_WARN, TVD_CRITICAL)),
        "measure": "p_value",
        "value": p_value,
        "threshold": P_WARN,
        "critical_threshold": P_CRITICAL,
        "comparison": "<",
        "statistic": statistic,
        "df": df,
        "effect": effect,
        "effect_measure": "total_variation",
        "effect_threshold": TVD_WARN,
        "effect_critical_threshold": TVD_CRITICAL,
    }


def run_checks(
    baseline: Mapping[str, int] | None,
    current: Mapping[str, int],
    page_hinkley_state: Mapping[str, float] | None,
    config: DriftConfig,
) -> dict[str, Any]:
    """Every check, and the overall verdict, as `mlmon status` shows it under `drift`."""
    now = summarize(current)
    enough = now["total_predictions"] >= config.min_samples
    base_total = baseline.get("predictions", 0) if baseline else 0
    usable_baseline = baseline is not None and base_total > 0
    checks = _drop_checks(baseline if usable_baseline else None, current, config)
    if baseline and usable_baseline:
        base_verdicts, base_histogram = distributions(baseline)
        now_verdicts, now_histogram = distributions(current)
        checks["verdict_psi"] = _psi_check(base_verdicts, now_verdicts)
        checks["confidence_psi"] = _psi_check(base_histogram, now_histogram)
        if sum(base_verdicts) and sum(now_verdicts):
            checks["verdict_chi_square"] = _chi_square_check(base_verdicts, now_verdicts)
        else:
            checks["verdict_chi_square"] = _insufficient("p_value", P_WARN, P_CRITICAL, "<")
        base_ml, now_ml = ml_verdicts(baseline), ml_verdicts(current)
        if sum(base_ml) and sum(now_ml):
            checks["ml_verdict_chi_square"] = _chi_square_check(base_ml, now_ml)
        else:
            checks["ml_verdict_chi_square"] = _insufficient("p_value", P_WARN, P_CRITICAL, "<")
    else:
        checks["ml_verdict_chi_square"] = _insufficient("p_value", P_WARN, P_CRITICAL, "<")
        checks["verdict_psi"] = _insufficient("psi", PSI_WARN, PSI_CRITICAL, ">=")
        checks["confidence_psi"] = _insufficient("psi", PSI_WARN, PSI_CRITICAL, ">=")
        checks["verdict_chi_square"] = _insufficient("p_value", P_WARN, P_CRITICAL, "<")
    checks["page_hinkley"] = page_hinkley.check(page_hinkley_state, config.ph_lambda)
    for name, key, target in (
        ("target_ml_usage", "ml_usage_rate", config.target_usage),
        ("target_agreement", "agreement_rate", config.target_agreement),
        ("target_avg_confidence", "avg_ml_confidence", config.target_confidence),
    ):
        checks[name] = _target_check(now[key], target)
    for name, check in checks.items():
        needs_baseline = not (name.startswith("target_") or name == "page_hinkley")
        if not enough:
            check |= {
                "status": INSUFFICIENT,
                "reason": f"fewer than {config.min_samples} predictions",
            }
        elif needs_baseline and not usable_baseline:
            check |= {"status": INSUFFICIENT, "reason": "no baseline: mlmon baseline set"}
    drift_statuses = [c["status"] for n, c in checks.items() if not n.startswith("target_")]
    all_statuses = [c["status"] for c in checks.values()]
    severity = max(all_statuses, key=lambda s: DriftStatus(s).rank)
    if all(s == INSUFFICIENT for s in all_statuses):
        severity = INSUFFICIENT
    return {
        "available": True,
        "drift_detected": any(s in (WARN, CRITICAL) for s in drift_statuses),
        "severity": severity,
        "window_predictions": now["total_predictions"],
        "baseline_predictions": base_total,
        "min_samples": config.min_samples,
        "checks": checks,
    }
