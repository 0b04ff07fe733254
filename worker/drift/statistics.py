"""Two-sample statistics of the drift checks, in pure Python.

`mlmon status` imports these, so they use no scipy or numpy (importing either costs more
than the whole status read); the tests check each one against scipy. Both the baseline and
the window are samples, so every test here is a two-sample test: treating the baseline's
proportions as exact would count its own sampling noise as drift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with `df` (a whole number) degrees of freedom.

    The closed form for whole `df` (a finite sum, with erfc for odd `df`).
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


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def _shared_columns(first: Sequence[float], second: Sequence[float]) -> list[tuple[float, float]]:
    """The bins with a count in either sample: a bin empty in both says nothing."""
    return [(a, b) for a, b in zip(first, second, strict=True) if a + b > 0]


MIN_EXPECTED = 5.0


def merge_sparse(
    baseline_counts: Sequence[float], window_counts: Sequence[float]
) -> list[tuple[float, float]]:
    """The bins with a count in either sample, neighbours merged until every bin expects
    at least `MIN_EXPECTED` events in both samples (the chi-square distribution is a poor
    guide to the statistic's tail below that: one event in a bin that expects a tenth of
    one would pass for drift). A short last bin joins the one before it."""
    columns = _shared_columns(baseline_counts, window_counts)
    n_baseline = sum(a for a, _ in columns)
    n_window = sum(b for _, b in columns)
    total = n_baseline + n_window
    if not n_baseline or not n_window:
        return columns
    smaller = min(n_baseline, n_window)
    merged: list[tuple[float, float]] = []
    pending = (0.0, 0.0)
    for a, b in columns:
        pending = (pending[0] + a, pending[1] + b)
        if (pending[0] + pending[1]) * smaller / total >= MIN_EXPECTED:
            merged.append(pending)
            pending = (0.0, 0.0)
    if pending != (0.0, 0.0):
        if merged:
            last = merged.pop()
            pending = (last[0] + pending[0], last[1] + pending[1])
        merged.append(pending)
    return merged


def chi_square_two_sample(
    baseline_counts: Sequence[float], window_counts: Sequence[float]
) -> tuple[float, int, float]:
    """Pearson's chi-square test of homogeneity on the 2 x k table (baseline, window).

    Returns (statistic, degrees of freedom, p-value) of the table with sparse bins merged
    (`merge_sparse`); no continuity correction (scipy's `chi2_contingency(table,
    correction=False)` on the merged table gives the same).
    """
    columns = merge_sparse(baseline_counts, window_counts)
    n_baseline = sum(a for a, _ in columns)
    n_window = sum(b for _, b in columns)
    total = n_baseline + n_window
    if len(columns) < 2 or n_baseline == 0 or n_window == 0:
        return 0.0, max(len(columns) - 1, 0), 1.0  # nothing to compare: no evidence
    statistic = 0.0
    for a, b in columns:
        column = a + b
        expected_a, expected_b = n_baseline * column / total, n_window * column / total
        statistic += (a - expected_a) ** 2 / expected_a + (b - expected_b) ** 2 / expected_b
    df = len(columns) - 1
    return statistic, df, chi2_sf(statistic, df)


def total_variation(baseline_counts: Sequence[float], window_counts: Sequence[float]) -> float:
    """Half the summed absolute difference of the two distributions: the share of events
    that would have to change bin (a shift of 10 points from one verdict to another is 0.1)."""
    n_baseline, n_window = sum(baseline_counts), sum(window_counts)
    if not n_baseline or not n_window:
        return 0.0
    return 0.5 * sum(
        abs(a / n_baseline - b / n_window)
        for a, b in zip(baseline_counts, window_counts, strict=True)
    )


def psi(baseline_counts: Sequence[float], window_counts: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins.

    An empty bin would make PSI infinite, so each sample gets half a count per bin of
    pseudo-counts, spread in the pooled proportions of both samples. Spread that way, two
    samples with the same proportions keep exactly those proportions, whatever their sizes,
    and their PSI is 0 (half a count added to every bin of each would bias it when the
    samples differ in size). Bins empty in both are left out.
    """
    columns = _shared_columns(baseline_counts, window_counts)
    n_baseline = sum(a for a, _ in columns)
    n_window = sum(b for _, b in columns)
    total = n_baseline + n_window
    if not total:
        return 0.0
    pseudo = 0.5 * len(columns)
    value = 0.0
    for a, b in columns:
        pooled = (a + b) / total
        p_baseline = (a + pseudo * pooled) / (n_baseline + pseudo)
        p_window = (b + pseudo * pooled) / (n_window + pseudo)
        value += (p_window - p_baseline) * math.log(p_window / p_baseline)
    return value


def proportion_drop_p(
    baseline_hits: int, baseline_total: int, window_hits: int, window_total: int
) -> float:
    """One-sided p-value that the window's rate is below the baseline's (pooled two-sample
    z-test of proportions)."""
    if not baseline_total or not window_total:
        return 1.0
    pooled = (baseline_hits + window_hits) / (baseline_total + window_total)
    variance = pooled * (1 - pooled) * (1 / baseline_total + 1 / window_total)
    drop = baseline_hits / baseline_total - window_hits / window_total
    if variance <= 0:
        return 1.0 if drop <= 0 else 0.0
    return normal_sf(drop / math.sqrt(variance))


def mean_drop_p(
    baseline: tuple[int, float, float], window: tuple[int, float, float]
) -> float | None:
    """One-sided p-value that the window's mean is below the baseline's (Welch's z-test);
    each side is (count, mean, variance). None when a count is too small for a variance."""
    (n_b, mean_b, var_b), (n_w, mean_w, var_w) = baseline, window
    if n_b < 2 or n_w < 2:
        return None
    variance = var_b / n_b + var_w / n_w
    drop = mean_b - mean_w
    if variance <= 0:
        return 1.0 if drop <= 0 else 0.0
    return normal_sf(drop / math.sqrt(variance))
