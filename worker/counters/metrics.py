"""The counters behind the rolling metrics: what one prediction adds, and what they mean.

Both sides live here, so the writer (group `metrics`) and the readers (`mlmon status`,
later the exporter) cannot disagree on a field name. Counter hash fields:

    predictions                  predictions counted
    ml_used                      with verdict_source = ml
    compared                     with both an ML and a rule verdict
    agreed                       of those, ML verdict == rule verdict
    ml_confidence_count          with an ML confidence
    ml_confidence_sum_micro      sum of ML confidences, in millionths (integer, exact)
    ml_confidence_sq_sum_micro   sum of squared ML confidences, in millionths (the
                                 variance of the confidence drop's test)
    final:<verdict> ml:<verdict> rule:<verdict>   verdict counts
    confidence_bin:<0..9>        ML confidence histogram, bins of 0.1 (1.0 in bin 9)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from producer_sdk.vocabulary import Verdict, VerdictSource

if TYPE_CHECKING:
    from producer_sdk.events import Prediction

CONFIDENCE_BINS = 10
VERDICT_KINDS = ("final", "ml", "rule")


def confidence_bin(confidence: float) -> int:
    return min(int(confidence * CONFIDENCE_BINS), CONFIDENCE_BINS - 1)


_FINAL = {v: f"final:{v.value}" for v in Verdict}
_RULE = {v: f"rule:{v.value}" for v in Verdict}
_ML = {v: f"ml:{v.value}" for v in Verdict}
_BIN = [f"confidence_bin:{i}" for i in range(CONFIDENCE_BINS)]


def counter_fields(event: Prediction) -> list[str]:
    """The counters one prediction adds 1 to (its confidence sum is added separately).

    It runs for every prediction, so field names come from tables, not formatting.
    """
    fields = ["predictions", _FINAL[event.final_verdict], _RULE[event.rule_verdict]]
    if event.verdict_source is VerdictSource.ML:
        fields.append("ml_used")
    ml = event.ml_verdict
    if ml is not None:
        fields += ("compared", _ML[ml])
        if ml is event.rule_verdict:
            fields.append("agreed")
    confidence = event.ml_confidence
    if confidence is not None:
        fields += (
            "ml_confidence_count",
            _BIN[min(int(confidence * CONFIDENCE_BINS), CONFIDENCE_BINS - 1)],
        )
    return fields


class PredictionKinds:
    """What a prediction adds, as one shared object per kind of prediction (its verdicts,
    source and confidence bin; at most a few thousand kinds), so a batch sums each kind
    once (`worker.consumer.effects.BatchEffects`) and builds no list per event."""

    def __init__(self) -> None:
        self._fields: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self._amounts: dict[float, dict[str, int]] = {}

    def fields(self, event: Prediction) -> tuple[str, ...]:
        """`counter_fields(event)`, shared by every prediction of its kind."""
        confidence = event.ml_confidence
        kind = (
            event.final_verdict,
            event.rule_verdict,
            event.verdict_source,
            event.ml_verdict,
            None if confidence is None else int(confidence * CONFIDENCE_BINS),
        )
        fields = self._fields.get(kind)
        if fields is None:
            fields = self._fields[kind] = tuple(counter_fields(event))
        return fields

    def amounts(self, confidence: float) -> dict[str, int]:
        """`confidence_amounts(confidence)`, shared by every prediction of that confidence
        (not to be changed by the caller)."""
        amounts = self._amounts.get(confidence)
        if amounts is None:
            if len(self._amounts) >= AMOUNTS_REMEMBERED:
                self._amounts.clear()
            amounts = self._amounts[confidence] = confidence_amounts(confidence)
        return amounts


AMOUNTS_REMEMBERED = 100_000  # confidences with four decimals: 10,001 values


def confidence_amounts(confidence: float) -> dict[str, int]:
    """The confidence sums a prediction adds, in millionths (integers add exactly)."""
    return {
        "ml_confidence_sum_micro": round(confidence * 1_000_000),
        "ml_confidence_sq_sum_micro": round(confidence * confidence * 1_000_000),
    }


def decode_counters(raw: Mapping[bytes, bytes]) -> dict[str, int]:
    return {name.decode(): int(value) for name, value in raw.items()}


def add_counters(parts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return total


def ratio(part: int, whole: int) -> float | None:
    """None, not 0, when there is nothing to divide: no data is not a bad rate."""
    return part / whole if whole else None


def summarize(counters: Mapping[str, int]) -> dict[str, Any]:
    """The metrics of one window (or all time) from its counters."""
    total = counters.get("predictions", 0)
    compared = counters.get("compared", 0)
    agreed = counters.get("agreed", 0)
    confidence_count = counters.get("ml_confidence_count", 0)
    confidence_sum = counters.get("ml_confidence_sum_micro", 0) / 1_000_000
    return {
        "total_predictions": total,
        "ml_used": counters.get("ml_used", 0),
        "compared": compared,
        "ml_usage_rate": ratio(counters.get("ml_used", 0), total),
        "agreement_rate": ratio(agreed, compared),
        "disagreement_rate": ratio(compared - agreed, compared),
        "avg_ml_confidence": confidence_sum / confidence_count if confidence_count else None,
        "verdict_distribution": {
            kind: {v.value: counters.get(f"{kind}:{v.value}", 0) for v in Verdict}
            for kind in VERDICT_KINDS
        },
        "confidence_histogram": [
            counters.get(f"confidence_bin:{i}", 0) for i in range(CONFIDENCE_BINS)
        ],
    }
