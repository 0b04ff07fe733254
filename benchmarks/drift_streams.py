"""Seeded prediction streams for the drift calibration, as the counters the checks read.

The stream: ML confidence normal with mean 0.82 and standard deviation 0.07 (clipped to
0..1), final verdicts strong_buy / buy / watch / avoid in shares 20 / 30 / 30 / 20 %, ML
used for 90 % of verdicts, ML agreeing with the rules on 75 %. A shift changes the mean
confidence, or moves points of the verdict mix from one verdict to another.

numpy draws the events (a window of 100,000 in a few milliseconds); the counters are the
fields group `metrics` keeps (`worker.counters.metrics`), and the Page-Hinkley state is
the one its Lua step would hold, computed with cumulative sums (`page_hinkley_state` is
checked against `worker.drift.page_hinkley.reference` in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.counters.metrics import CONFIDENCE_BINS
from worker.drift.checks import VERDICTS

CONFIDENCE_MEAN, CONFIDENCE_SD = 0.82, 0.07
VERDICT_SHARES = (0.2, 0.3, 0.3, 0.2)
ML_USED, AGREED = 0.9, 0.75


@dataclass(frozen=True)
class Shift:
    """A documented change of the stream: mean confidence by `confidence` (negative is a
    drop), and `verdict_points` of the final-verdict mix moved from watch to buy."""

    name: str
    confidence: float = 0.0
    verdict_points: float = 0.0

    def shares(self) -> list[float]:
        shares = list(VERDICT_SHARES)
        shares[VERDICTS.index("buy")] += self.verdict_points / 100
        shares[VERDICTS.index("watch")] -= self.verdict_points / 100
        return shares


STABLE = Shift("stable")


def confidences(rng: np.random.Generator, count: int, shift: Shift = STABLE) -> np.ndarray:
    values = rng.normal(CONFIDENCE_MEAN + shift.confidence, CONFIDENCE_SD, count)
    return np.round(np.clip(values, 0.0, 1.0), 6)


def counters(
    rng: np.random.Generator, count: int, shift: Shift = STABLE
) -> tuple[dict[str, int], np.ndarray]:
    """The counters of `count` predictions, and their confidences in event order."""
    values = confidences(rng, count, shift)
    bins = np.minimum((values * CONFIDENCE_BINS).astype(np.int64), CONFIDENCE_BINS - 1)
    histogram = np.bincount(bins, minlength=CONFIDENCE_BINS)
    verdicts = rng.multinomial(count, shift.shares())
    result = {
        "predictions": count,
        "ml_used": int(rng.binomial(count, ML_USED)),
        "compared": count,
        "agreed": int(rng.binomial(count, AGREED)),
        "ml_confidence_count": count,
        "ml_confidence_sum_micro": int(np.round(values * 1_000_000).sum()),
        "ml_confidence_sq_sum_micro": int(np.round(values * values * 1_000_000).sum()),
    }
    result |= {f"final:{v}": int(c) for v, c in zip(VERDICTS, verdicts, strict=True)}
    result |= {f"confidence_bin:{i}": int(c) for i, c in enumerate(histogram)}
    return result, values


def page_hinkley_path(
    values: np.ndarray, delta: float, *, mean: float, prior_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """After each value: the running mean, and the upward and downward scores."""
    n = np.arange(1, len(values) + 1)
    running = (prior_n * mean + np.cumsum(values)) / (prior_n + n)
    up_sum = np.cumsum(values - running - delta)
    down_sum = np.cumsum(values - running + delta)
    up_score = up_sum - np.minimum(np.minimum.accumulate(up_sum), 0.0)
    down_score = np.maximum(np.maximum.accumulate(down_sum), 0.0) - down_sum
    return running, up_score, down_score


def page_hinkley_state(
    values: np.ndarray, delta: float, *, mean: float, prior_n: int
) -> dict[str, float]:
    """The detector's state after `values`, seeded as `mlmon baseline set` seeds it."""
    n = np.arange(1, len(values) + 1)
    running = (prior_n * mean + np.cumsum(values)) / (prior_n + n)
    up_sum = np.cumsum(values - running - delta)
    down_sum = np.cumsum(values - running + delta)
    return {
        "n": float(len(values)),
        "prior_n": float(prior_n),
        "mean": float(running[-1]),
        "up_sum": float(up_sum[-1]),
        "up_min": float(min(up_sum.min(), 0.0)),
        "down_sum": float(down_sum[-1]),
        "down_max": float(max(down_sum.max(), 0.0)),
    }


def events_to_detect(scores: np.ndarray, threshold: float) -> int | None:
    """How many events until the score first passes `threshold` (None: never)."""
    above = np.flatnonzero(scores > threshold)
    return int(above[0]) + 1 if len(above) else None
