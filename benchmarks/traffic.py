"""Realistic prediction traffic for the benchmarks, and publishing it in bulk."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.harness import Bench
from producer_sdk import Prediction, Publisher, Verdict, VerdictSource

TICKERS = (
    "RELIANCE.NS TCS.NS HDFCBANK.NS INFY.NS ICICIBANK.NS SBIN.NS BHARTIARTL.NS ITC.NS "
    "BAJAJ-AUTO.NS M&M.NS TATAMOTORS.NS LT.NS AXISBANK.NS MARUTI.NS SUNPHARMA.NS "
    "RELIANCE.BO TCS.BO SBIN.BO INFY.BO HDFCBANK.BO"
).split()
FEATURE_NAMES = (
    "rsi_14",
    "macd_hist",
    "pe_ratio",
    "pb_ratio",
    "momentum_20d_pct",
    "volatility_30d",
    "volume_ratio_5d",
    "dist_52w_high_pct",
    "beta_1y",
    "sector_rel_strength",
)
VERDICTS = tuple(v.value for v in Verdict)
RULE_MIX = (0.15, 0.30, 0.35, 0.20)
MODEL_VERSION = "lgbm-2025.01.15-v3"


class Traffic:
    """Realistic predictions, cheap to build in bulk.

    Drawing random fields costs more than validating a model, so the fields come from a
    pool drawn once; each event still goes through the `Prediction` constructor (full
    validation) with its own event_id and a timestamp rising through `spread`, as a live
    stream would carry them.
    """

    def __init__(
        self,
        *,
        seed: int,
        feature_share: float,
        spread: timedelta = timedelta(minutes=30),
        pool_size: int = 2_000,
    ) -> None:
        rng = random.Random(seed)
        self.pool = [_draw_fields(rng, feature_share) for _ in range(pool_size)]
        self.end = datetime.now(UTC)
        self.spread = spread

    def fields(self, index: int, count: int) -> dict[str, Any]:
        """Keyword arguments of event `index` of `count`, as `log_prediction` takes them."""
        ts = self.end - self.spread * (1 - index / max(count, 1))
        return {**self.pool[index % len(self.pool)], "ts": ts}

    def predictions(
        self, count: int, *, offset: int = 0, total: int | None = None
    ) -> list[Prediction]:
        total = total or count
        return [Prediction(**self.fields(offset + i, total)) for i in range(count)]


def _draw_fields(rng: random.Random, feature_share: float) -> dict[str, Any]:
    """One prediction's fields: ML runs on most stocks and agrees with rules 2 times in 3."""
    rule = rng.choices(VERDICTS, weights=RULE_MIX)[0]
    fields: dict[str, Any] = {"ticker": rng.choice(TICKERS), "rule_verdict": rule}
    final, source = rule, VerdictSource.RULE.value
    if rng.random() < 0.92:
        ml = rule if rng.random() < 0.66 else rng.choice(VERDICTS)
        confidence = round(min(0.99, max(0.35, rng.betavariate(8, 2.2))), 4)
        if confidence >= 0.62:
            final, source = ml, VerdictSource.ML.value
        fields |= {"ml_verdict": ml, "ml_confidence": confidence, "model_version": MODEL_VERSION}
    fields |= {"final_verdict": final, "verdict_source": source}
    if rng.random() < feature_share:
        fields["features"] = {name: round(rng.uniform(-50, 150), 4) for name in FEATURE_NAMES}
    return fields


def publish_load(
    bench: Bench, prefix: str, count: int, traffic: Traffic, *, chunk: int = 1_000
) -> float:
    """Publish `count` predictions with publish_many; returns the seconds it took.

    No MAXLEN here: approximate trimming must not drop entries the workers have to see.
    """
    publisher = Publisher(bench.client, prefix=prefix)
    report_every = max(count // 5, chunk)
    started = time.perf_counter()
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        publisher.publish_many(traffic.predictions(size, offset=start, total=count))
        if count >= 100_000 and (start + size) % report_every == 0:
            bench.say(f"  published {start + size:,} of {count:,}")
    return time.perf_counter() - started
