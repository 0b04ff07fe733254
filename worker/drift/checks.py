"""Drift checks: a current window of the metrics counters against a baseline snapshot.

Pure functions of two counter dicts (the fields of `worker.counters.metrics`), so they are
tested against reference computations and give the same answer wherever they run.

Each check is `ok`, `warn`, `critical`, or `insufficient data` (fewer than
`ML_DRIFT_MIN_SAMPLES` predictions in the window, or no baseline to compare with):

- drops of average ML confidence, agreement rate and ML usage rate (warn above the
  threshold, critical above twice the threshold);
- PSI of the final-verdict distribution and of the 10-bin confidence histogram (warn at
  0.1, critical at 0.25), with half a count added to every bin so empty bins stay finite;
- a chi-square test of the final-verdict counts against the baseline's proportions (warn
  at p < 0.01, critical at p < 0.001);
- the Page-Hinkley detector on ML confidence, both directions (state kept per event);
- the original system's targets: ML usage, agreement and average confidence at least
  80 %, 60 % and 75 % (warn below).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from producer_sdk.vocabulary import Verdict
from worker.counters.metrics import CONFIDENCE_BINS, summarize
from worker.levels import DriftStatus

OK, WARN, CRITICAL = DriftStatus.OK, DriftStatus.WARN, DriftStatus.CRITICAL
INSUFFICIENT = DriftStatus.INSUFFICIENT
PSI_WARN, PSI_CRITICAL = 0.1, 0.25
CHI2_P_WARN, CHI2_P_CRITICAL = 0.01, 0.001
SMALL_COUNT = 0.5  # added to every bin: an empty bin would make PSI infinite
VERDICTS = [v.value for v in Verdict]


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds (the ML_DRIFT_* and target settings)."""

    confidence_drop: float = 0.1
    agreement_drop: float = 0.15
    usage_drop: float = 0.15
    min_samples: int = 100
    ph_lambda: float = 3.0
    target_usage: float = 0.8
    target_agreement: float = 0.6
    target_confidence: float = 0.75


def psi(expected_counts: Sequence[float], actual_counts: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins."""
    expected = [c + SMALL_COUNT for c in expected_counts]
    actual = [c + SMALL_COUNT for c in actual_counts]
    total_expected, total_actual = sum(expected), sum(actual)
    value = 0.0
    for e, a in zip(expected, actual, strict=True):
        p_e, p_a = e / total_expected, a / total_actual
        value += (p_a - p_e) * math.log(p_a / p_e)
    return value


def chi_square(
    expected_counts: Sequence[float], actual_counts: Sequence[float]
) -> tuple[float, float]:
    """Chi-square goodness of fit of `actual_counts` to the proportions of
    `expected_counts`; returns (statistic, p-value)."""
    expected = [c + SMALL_COUNT for c in expected_counts]
    total_expected, total_actual = sum(expected), sum(actual_counts)
    if total_actual == 0:
        return 0.0, 1.0  # nothing observed: no evidence of a difference
    statistic = sum(
        (a - e / total_expected * total_actual) ** 2 / (e / total_expected * total_actual)
        for e, a in zip(expected, actual_counts, strict=True)
    )
    return statistic, chi2_sf(statistic, len(expected) - 1)


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with `df` (a whole number) degrees of freedom.

    The closed form for whole `df` (a finite sum, with erfc for odd `df`), so `mlmon
    status` needs no scipy (its import alone costs more than the whole status read);
    tests check it against `scipy.stats.chi2.sf`.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    if statistic <= 0:
        return 1.0
    half = statistic / 2
    if df % 2 == 0:
        term = total = math.exp(-half)
        for k in range(1, df // 2):
            term *= half / k
            total += term
        return min(1.0, total)
    term, total = math.sqrt(statistic), 0.0
    for j in range(1, (df - 1) // 2 + 1):
        total += term
        term *= statistic / (2 * j + 1)
    return min(1.0, math.erfc(math.sqrt(half)) + math.sqrt(2 / math.pi) * math.exp(-half) * total)


def _level(value: float, warn: float, critical: float) -> str:
    return CRITICAL if value >= critical else WARN if value >= warn else OK


def _check(status: str, **figures: Any) -> dict[str, Any]:
    return {"status": status, **figures}


def _drop_check(baseline: float | None, current: float | None, threshold: float) -> dict[str, Any]:
    if baseline is None or current is None:
        return _check(
            INSUFFICIENT, baseline=baseline, current=current, delta=None, threshold=threshold
        )
    drop = baseline - current
    return _check(
        _level(drop, threshold, 2 * threshold) if drop > threshold else OK,
        baseline=baseline,
        current=current,
        delta=current - baseline,
        threshold=threshold,
    )


def _target_check(current: float | None, target: float) -> dict[str, Any]:
    if current is None:
        return _check(INSUFFICIENT, baseline=target, current=None, delta=None, threshold=target)
    return _check(
        WARN if current < target else OK,
        baseline=target,
        current=current,
        delta=current - target,
        threshold=target,
    )


def distributions(counters: Mapping[str, int]) -> tuple[list[int], list[int]]:
    """Final-verdict counts and the confidence histogram, in fixed order."""
    verdicts = [counters.get(f"final:{v}", 0) for v in VERDICTS]
    histogram = [counters.get(f"confidence_bin:{i}", 0) for i in range(CONFIDENCE_BINS)]
    return verdicts, histogram


def run_checks(
    baseline: Mapping[str, int] | None,
    current: Mapping[str, int],
    page_hinkley: Mapping[str, float] | None,
    config: DriftConfig,
) -> dict[str, Any]:
    """Every check, and the overall verdict, as `mlmon status` shows it under `drift`."""
    now = summarize(current)
    enough = now["total_predictions"] >= config.min_samples
    checks: dict[str, dict[str, Any]] = {}
    base = summarize(baseline) if baseline else None
    usable_baseline = base is not None and base["total_predictions"] > 0
    for name, key, threshold in (
        ("confidence_drop", "avg_ml_confidence", config.confidence_drop),
        ("agreement_drop", "agreement_rate", config.agreement_drop),
        ("usage_drop", "ml_usage_rate", config.usage_drop),
    ):
        checks[name] = _drop_check(base[key] if base else None, now[key], threshold)
    if enough and usable_baseline and baseline is not None and sum(distributions(baseline)[0]):
        checks |= _distribution_checks(baseline, current)
    else:
        for name in ("verdict_psi", "confidence_psi", "verdict_chi_square"):
            checks[name] = _check(
                INSUFFICIENT, baseline=None, current=None, delta=None, threshold=None
            )
    checks["page_hinkley"] = _page_hinkley_check(page_hinkley, config.ph_lambda)
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
        "baseline_predictions": base["total_predictions"] if base else 0,
        "min_samples": config.min_samples,
        "checks": checks,
    }


def _distribution_checks(baseline: Mapping[str, int], current: Mapping[str, int]) -> dict[str, Any]:
    base_verdicts, base_histogram = distributions(baseline)
    now_verdicts, now_histogram = distributions(current)
    verdict_psi = psi(base_verdicts, now_verdicts)
    confidence_psi = psi(base_histogram, now_histogram) if sum(now_histogram) else None
    statistic, p_value = chi_square(base_verdicts, now_verdicts)
    chi_status = CRITICAL if p_value < CHI2_P_CRITICAL else WARN if p_value < CHI2_P_WARN else OK
    return {
        "verdict_psi": _check(
            _level(verdict_psi, PSI_WARN, PSI_CRITICAL),
            baseline=0.0,
            current=verdict_psi,
            delta=verdict_psi,
            threshold=PSI_WARN,
        ),
        "confidence_psi": _check(
            INSUFFICIENT
            if confidence_psi is None
            else _level(confidence_psi, PSI_WARN, PSI_CRITICAL),
            baseline=0.0,
            current=confidence_psi,
            delta=confidence_psi,
            threshold=PSI_WARN,
        ),
        "verdict_chi_square": _check(
            chi_status,
            baseline=None,
            current=statistic,
            delta=None,
            threshold=CHI2_P_WARN,
            p_value=p_value,
        ),
    }


def _page_hinkley_check(state: Mapping[str, float] | None, threshold: float) -> dict[str, Any]:
    if not state or not state.get("n"):
        return _check(INSUFFICIENT, baseline=None, current=None, delta=None, threshold=threshold)
    up = state.get("up_sum", 0.0) - state.get("up_min", 0.0)
    down = state.get("down_max", 0.0) - state.get("down_sum", 0.0)
    score = max(up, down)
    return _check(
        _level(score, threshold, 2 * threshold),
        baseline=state.get("mean"),
        current=score,
        delta=None,
        threshold=threshold,
        direction="down" if down >= up else "up",
        events=int(state["n"]),
    )


def page_hinkley_reference(values: Sequence[float], delta: float) -> dict[str, float]:
    """The detector's state after `values`, computed in Python (the Lua step's reference)."""
    n, mean, up_sum, up_min, down_sum, down_max = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    for x in values:
        n += 1
        mean += (x - mean) / n
        up_sum += x - mean - delta
        up_min = min(up_min, up_sum)
        down_sum += x - mean + delta
        down_max = max(down_max, down_sum)
    return {
        "n": n,
        "mean": mean,
        "up_sum": up_sum,
        "up_min": up_min,
        "down_sum": down_sum,
        "down_max": down_max,
    }
