"""Seeded streams of 64 features, as the metrics group would count them, for the feature
drift calibration: each feature has its own distribution shape (normal, log-normal,
uniform, a small integer count, a bounded ratio), so ties and skew are covered.

`fine_bins` is `worker.counters.features.fine_bin` on arrays (a test checks they agree).
"""

from __future__ import annotations

import numpy as np

from worker.counters.features import (
    BINS_PER_OCTAVE,
    FEATURED,
    MAX_EXPONENT,
    MIN_EXPONENT,
    TOP_BIN,
    encode_name,
)

FEATURE_COUNT = 64
SHAPES = ("normal", "lognormal", "uniform", "count", "ratio")


def fine_bins(values: np.ndarray) -> np.ndarray:
    magnitude = np.abs(values)
    mantissa, exponent = np.frexp(magnitude)
    index = (exponent - 1 - MIN_EXPONENT) * BINS_PER_OCTAVE + 1
    index = index + np.floor((mantissa - 0.5) * 2 * BINS_PER_OCTAVE).astype(np.int64)
    index = np.where(magnitude >= 2.0**MAX_EXPONENT, TOP_BIN, index)
    index = np.where(magnitude < 2.0**MIN_EXPONENT, 0, index)
    return np.where(values < 0, -index, index)


def draw(rng: np.random.Generator, feature: int, size: int, shift_sd: float = 0.0) -> np.ndarray:
    """`size` values of feature number `feature`; `shift_sd` moves the mean by that many
    standard deviations."""
    shape = SHAPES[feature % len(SHAPES)]
    scale = 10.0 ** (feature % 7 - 3)
    if shape == "normal":
        values = rng.normal(0.0, 1.0, size) * scale + shift_sd * scale
    elif shape == "lognormal":
        sd = float(np.sqrt((np.e - 1) * np.e))
        values = (rng.lognormal(0.0, 1.0, size) + shift_sd * sd) * scale
    elif shape == "uniform":
        values = (rng.uniform(-1.0, 3.0, size) + shift_sd * 4 / np.sqrt(12)) * scale
    elif shape == "count":
        values = rng.poisson(4.0, size).astype(float) + shift_sd * 2.0
    else:
        values = rng.beta(2.0, 5.0, size) + shift_sd * 0.16
    return values


def feature_counters(
    rng: np.random.Generator,
    size: int,
    *,
    shifted: dict[int, float] | None = None,
    missing: dict[int, float] | None = None,
) -> dict[str, int]:
    """The feature fields of `size` predictions with `FEATURE_COUNT` features each."""
    counters = {"predictions": size, FEATURED: size}
    for feature in range(FEATURE_COUNT):
        values = draw(rng, feature, size, (shifted or {}).get(feature, 0.0))
        share = (missing or {}).get(feature, 0.0)
        if share:
            values = values[rng.random(size) >= share]
        bins, counts = np.unique(fine_bins(values), return_counts=True)
        name = encode_name(f"feature_{feature:02d}")
        for fine, count in zip(bins.tolist(), counts.tolist(), strict=True):
            counters[f"f:{name}:{fine}"] = count
    return counters
