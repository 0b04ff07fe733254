"""False alarms and detection power of the feature checks (`worker.drift.features`) on
64 features: the part of `make calibrate` for per-feature drift and data quality.

Each trial draws a fresh baseline and a fresh window of `benchmarks.feature_streams` and
runs `run_feature_checks` with `FeatureConfig()` (the settings' defaults). Reported per
(baseline, window) size: the share of windows where any of the 64 features is flagged as
drift, and where any data-quality check fails; with one feature shifted by one standard
deviation, and one missing in 30 % of predictions, the share where exactly those are found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.feature_streams import FEATURE_COUNT, feature_counters
from worker.drift.features import FeatureConfig, run_feature_checks

STABLE_SIZES = [
    (100, 100),
    (500, 100),
    (2_000, 500),
    (2_000, 2_000),
    (10_000, 10_000),
    (100, 20_000),
]
STABLE_TRIALS = 600
LARGE_TRIALS = 200  # 64 x 20,000 values a trial
POWER_SIZES = [(2_000, 500), (2_000, 2_000)]
POWER_TRIALS = 100
SHIFTED, MISSING = 3, 7


def _trial(
    rng: np.random.Generator, sizes: tuple[int, int], changed: bool, config: FeatureConfig
) -> dict[str, Any]:
    baseline = feature_counters(rng, sizes[0])
    window = feature_counters(
        rng,
        sizes[1],
        shifted={SHIFTED: 1.0} if changed else None,
        missing={MISSING: 0.3} if changed else None,
    )
    return run_feature_checks(baseline, window, config)


def feature_rates(
    rng: np.random.Generator, scale: float, say: Callable[[str], None]
) -> dict[str, Any]:
    config = FeatureConfig()
    stable = []
    for sizes in STABLE_SIZES:
        trials = max(1, round((LARGE_TRIALS if max(sizes) > 10_000 else STABLE_TRIALS) * scale))
        drift = quality = 0
        for _ in range(trials):
            report = _trial(rng, sizes, False, config)
            drift += bool(report["drifted"])
            quality += bool(report["quality_failures"])
        stable.append(
            {
                "baseline_events": sizes[0],
                "window_events": sizes[1],
                "trials": trials,
                "feature_drift": drift / trials,
                "data_quality": quality / trials,
            }
        )
        say(f"features stable {sizes[0]:,} + {sizes[1]:,}: drift {drift / trials:.2%}")
    power = []
    for sizes in POWER_SIZES:
        trials = max(1, round(POWER_TRIALS * scale))
        exact = 0
        for _ in range(trials):
            report = _trial(rng, sizes, True, config)
            failures = [(f["feature"], f["check"]) for f in report["quality_failures"]]
            exact += report["drifted"] == [f"feature_{SHIFTED:02d}"] and failures == [
                (f"feature_{MISSING:02d}", "missing")
            ]
        power.append(
            {
                "baseline_events": sizes[0],
                "window_events": sizes[1],
                "trials": trials,
                "exactly_the_two_found": exact / trials,
            }
        )
        say(f"features changed {sizes[0]:,} + {sizes[1]:,}: exact {exact / trials:.1%}")
    return {
        "features": FEATURE_COUNT,
        "stream": "64 features: normal, log-normal, uniform, Poisson(4) counts, Beta(2, 5) "
        "ratios, scales 1e-3 to 1e3",
        "changed": "feature 3 shifted by 1 sd, feature 7 missing in 30 % of predictions",
        "stable": stable,
        "power": power,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| baseline + window events | trials | any of 64 features drifted "
        "| any data-quality failure |",
        "|---|---|---|---|",
    ]
    for row in result["stable"]:
        lines.append(
            f"| {row['baseline_events']:,} + {row['window_events']:,} | {row['trials']:,} | "
            f"{row['feature_drift'] * 100:.2f} % | {row['data_quality'] * 100:.2f} % |"
        )
    lines += ["", "| one shifted 1 sd, one 30 % missing | trials | exactly those two flagged |"]
    lines.append("|---|---|---|")
    for row in result["power"]:
        lines.append(
            f"| {row['baseline_events']:,} + {row['window_events']:,} | {row['trials']} | "
            f"{row['exactly_the_two_found'] * 100:.1f} % |"
        )
    return "\n".join(lines)
