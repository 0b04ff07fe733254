"""False-alarm rates and detection power of the drift checks, on seeded streams.

    python -m benchmarks.drift_calibration [--scale 1.0] [--out benchmarks/drift_calibration.json]

Runs the checks' own code (`worker.drift.checks.run_checks` with `DriftConfig()`, the
settings' defaults) on the counters of generated streams (`benchmarks.drift_streams`);
no Redis is needed for the statistics. For each pair of sizes, each trial draws a fresh
baseline and a fresh window; Page-Hinkley is seeded from the baseline, as
`mlmon baseline set` seeds it, and fed the window's events. Reported:

- stable streams: the share of windows with `drift_detected` (any drift check at warn or
  worse), with any check critical, and each check's warn-or-worse and critical rates;
- shifted streams: the same shares (detection power) for the documented shifts;
- Page-Hinkley: events after a shift until it warns and until it goes critical (median
  and worst), over streams started right after the baseline was set;
- 64 features: windows with any feature drifted or any data-quality failure, stable and
  changed (`benchmarks.feature_calibration`).

Progress goes to stderr; a markdown table of the results to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import feature_calibration
from benchmarks.drift_streams import (
    STABLE,
    Shift,
    counters,
    events_to_detect,
    page_hinkley_path,
    page_hinkley_state,
)
from worker.counters.metrics import summarize
from worker.drift.checks import DriftConfig, run_checks
from worker.settings import Settings

OUT = Path(__file__).with_name("drift_calibration.json")
# (baseline, window) sizes of the stable runs, and their trials at --scale 1
STABLE_SIZES = [
    (100, 100),
    (100, 2_000),
    (100, 100_000),
    (500, 100),
    (2_000, 100),
    (2_000, 500),
    (2_000, 2_000),
    (2_000, 100_000),
    (100_000, 100),
    (100_000, 2_000),
    (100_000, 100_000),
]
STABLE_TRIALS = 6_000
LARGE_TRIALS = 1_500  # pairs with 100,000 events on a side cost more per trial
SHIFTS = [
    Shift("confidence -0.05", confidence=-0.05),
    Shift("confidence -0.10", confidence=-0.10),
    Shift("verdict mix 5 points", verdict_points=5),
    Shift("verdict mix 10 points", verdict_points=10),
]
POWER_SIZES = [(2_000, 500), (2_000, 2_000), (100_000, 100_000)]
POWER_TRIALS = 400
PH_SHIFTS = [-0.05, -0.10, -0.20]
PH_BASELINE, PH_EVENTS, PH_TRIALS = 2_000, 3_000, 400


def trial(
    rng: np.random.Generator,
    sizes: tuple[int, int],
    shift: Shift,
    config: DriftConfig,
    delta: float,
) -> dict[str, Any]:
    """One baseline and one window through the checks."""
    baseline, _ = counters(rng, sizes[0])
    window, values = counters(rng, sizes[1], shift)
    mean = summarize(baseline)["avg_ml_confidence"]
    state = page_hinkley_state(values, delta, mean=mean, prior_n=sizes[0])
    return run_checks(baseline, window, state, config)


def rates(
    rng: np.random.Generator,
    sizes: tuple[int, int],
    shift: Shift,
    trials: int,
    config: DriftConfig,
    delta: float,
) -> dict[str, Any]:
    detected = critical = 0
    warn_by_check: Counter[str] = Counter()
    critical_by_check: Counter[str] = Counter()
    for _ in range(trials):
        report = trial(rng, sizes, shift, config, delta)
        detected += report["drift_detected"]
        drift_checks = {n: c for n, c in report["checks"].items() if not n.startswith("target_")}
        critical += any(c["status"] == "critical" for c in drift_checks.values())
        for name, check in drift_checks.items():
            warn_by_check[name] += check["status"] in ("warn", "critical")
            critical_by_check[name] += check["status"] == "critical"
    names = [
        n for n in trial(rng, (100, 100), STABLE, config, delta)["checks"] if "target" not in n
    ]
    return {
        "baseline_events": sizes[0],
        "window_events": sizes[1],
        "shift": shift.name,
        "trials": trials,
        "drift_detected": detected / trials,
        "critical": critical / trials,
        "checks": {
            n: {"warn": warn_by_check[n] / trials, "critical": critical_by_check[n] / trials}
            for n in names
        },
    }


def page_hinkley_delays(
    rng: np.random.Generator, drop: float, trials: int, config: DriftConfig, delta: float
) -> dict[str, Any]:
    """Events after the shift until the detector warns and until it goes critical."""
    warn, critical, missed = [], [], 0
    shift = Shift(f"confidence {drop:+.2f}", confidence=drop)
    for _ in range(trials):
        baseline, _ = counters(rng, PH_BASELINE)
        _, values = counters(rng, PH_EVENTS, shift)
        mean = summarize(baseline)["avg_ml_confidence"]
        _, up, down = page_hinkley_path(values, delta, mean=mean, prior_n=PH_BASELINE)
        scores = np.maximum(up, down)
        to_warn = events_to_detect(scores, config.ph_lambda)
        to_critical = events_to_detect(scores, 2 * config.ph_lambda)
        missed += to_critical is None
        warn += [to_warn] if to_warn is not None else []
        critical += [to_critical] if to_critical is not None else []
    return {
        "shift": shift.name,
        "baseline_events": PH_BASELINE,
        "events_fed": PH_EVENTS,
        "trials": trials,
        "warn_median": statistics.median(warn) if warn else None,
        "warn_worst": max(warn) if warn else None,
        "critical_median": statistics.median(critical) if critical else None,
        "critical_worst": max(critical) if critical else None,
        "never_critical": missed,
    }


def calibrate(scale: float, seed: int = 20_261_129, progress: bool = True) -> dict[str, Any]:
    """The whole run; `scale` multiplies every number of trials."""
    settings = Settings()
    config, delta = DriftConfig(), settings.ph_delta
    rng = np.random.default_rng(seed)
    started = time.monotonic()

    def say(text: str) -> None:
        if progress:
            print(f"[{time.monotonic() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    stable = []
    for sizes in STABLE_SIZES:
        trials = LARGE_TRIALS if max(sizes) >= 100_000 else STABLE_TRIALS
        stable.append(rates(rng, sizes, STABLE, max(1, round(trials * scale)), config, delta))
        say(f"stable {sizes[0]:,} + {sizes[1]:,}: drift {stable[-1]['drift_detected']:.2%}")
    power = []
    for shift in SHIFTS:
        for sizes in POWER_SIZES:
            trials = max(1, round(POWER_TRIALS * scale))
            power.append(rates(rng, sizes, shift, trials, config, delta))
            say(f"{shift.name} {sizes[0]:,} + {sizes[1]:,}: {power[-1]['drift_detected']:.1%}")
    delays = []
    for drop in PH_SHIFTS:
        delays.append(
            page_hinkley_delays(rng, drop, max(1, round(PH_TRIALS * scale)), config, delta)
        )
        say(f"page_hinkley {drop:+.2f}: warn median {delays[-1]['warn_median']}")
    return {
        "command": f"python -m benchmarks.drift_calibration --scale {scale:g}",
        "seed": seed,
        "stream": "confidence N(0.82, 0.07) clipped; verdicts 20/30/30/20 %; ML used 90 %; "
        "agreement 75 %",
        "thresholds": {"ph_lambda": config.ph_lambda, "ph_delta": delta},
        "stable": stable,
        "power": power,
        "page_hinkley": delays,
        "features": feature_calibration.feature_rates(rng, scale, say),
        "seconds": round(time.monotonic() - started, 1),
    }


def percent(share: float) -> str:
    return f"{share * 100:.2f} %"


def markdown(result: dict[str, Any]) -> str:
    """The README's tables."""
    lines = [
        "| baseline + window events | trials | `drift_detected` | critical | worst check (warn) |",
        "|---|---|---|---|---|",
    ]
    for row in result["stable"]:
        worst = max(row["checks"].items(), key=lambda item: item[1]["warn"])
        worst_text = f"`{worst[0]}` {percent(worst[1]['warn'])}" if worst[1]["warn"] else "none"
        lines.append(
            f"| {row['baseline_events']:,} + {row['window_events']:,} | {row['trials']:,} | "
            f"{percent(row['drift_detected'])} | {percent(row['critical'])} | {worst_text} |"
        )
    lines += ["", "| check | highest warn-or-worse rate (sizes) | highest critical rate (sizes) |"]
    lines.append("|---|---|---|")
    for name in result["stable"][0]["checks"]:
        cells = []
        for level in ("warn", "critical"):
            row = max(result["stable"], key=lambda r: r["checks"][name][level])
            rate = row["checks"][name][level]
            sizes = f"{row['baseline_events']:,} + {row['window_events']:,}"
            cells.append(f"{percent(rate)} ({sizes})" if rate else "0 at every size")
        lines.append(f"| `{name}` | {cells[0]} | {cells[1]} |")
    lines += ["", "| shift | baseline + window events | trials | detected (warn) | critical |"]
    lines.append("|---|---|---|---|---|")
    for row in result["power"]:
        lines.append(
            f"| {row['shift']} | {row['baseline_events']:,} + {row['window_events']:,} | "
            f"{row['trials']} | {percent(row['drift_detected'])} | {percent(row['critical'])} |"
        )
    lines += ["", "| Page-Hinkley shift | warn: median / worst events | critical: median / worst |"]
    lines.append("|---|---|---|")
    for row in result["page_hinkley"]:
        lines.append(
            f"| {row['shift']} | {row['warn_median']} / {row['warn_worst']} | "
            f"{row['critical_median']} / {row['critical_worst']} |"
        )
    if "features" in result:
        lines += ["", feature_calibration.markdown(result["features"])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every trial count")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = calibrate(args.scale)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
