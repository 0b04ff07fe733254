"""Scoring of trade outcomes: what one outcome adds to the counters, and what they mean.

A bullish verdict (`strong_buy`, `buy`) is right when the outcome is `profit`; `watch` and
`avoid` are right when it is not. Each source (ML, rule, final) is scored on the outcomes
that carry its verdict, and again on the outcomes where ML and rules disagreed.

Counter hash fields (all-time `feedback:all`, per UTC day `feedback:day:<day>`):

    outcomes  outcome:<profit|loss|neutral>  pnl_sum_micro
    joined  joined_by:id  joined_by:ticker_date  unmatched      how outcomes were joined
    label_delay_days_sum                                         days from prediction to outcome
    labelled_rows                                                rows added to the training CSV
    <s>:n  <s>:right  <s>:bullish  <s>:bullish_right  <s>:bullish_pnl_sum_micro
    disagree:n  disagree:<s>:n  disagree:<s>:right  ...          the same, where ML != rule
    calib:n  calib:right  calib:confidence_sum_micro             joined outcomes whose
                                                                 prediction had an ML
                                                                 confidence (calibration)
    calib_bin:<0..9>:n  :right  :confidence_sum_micro            the same per confidence bin
for each source <s> in ml, rule, final. Sums of pnl % are kept in millionths (integers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from producer_sdk.vocabulary import Outcome, Verdict
from worker.counters.metrics import CONFIDENCE_BINS, confidence_bin, ratio

SOURCES = ("ml", "rule", "final")
BULLISH = frozenset({Verdict.STRONG_BUY, Verdict.BUY})
FEEDBACK_WINDOWS_DAYS = {"7d": 7, "30d": 30}
MICRO = 1_000_000


def is_right(verdict: Verdict, outcome: Outcome) -> bool:
    """Bullish calls are right on a profit; watch and avoid are right on anything else."""
    return (outcome is Outcome.PROFIT) == (verdict in BULLISH)


@dataclass(frozen=True)
class ScoredOutcome:
    """One outcome with the verdicts it is scored against."""

    verdicts: Mapping[str, Verdict | None]  # source -> verdict
    outcome: Outcome
    pnl_pct: float
    joined_by: str | None  # "id", "ticker_date" or None
    label_delay_days: int
    labelled: bool
    ml_confidence: float | None = None  # of the joined prediction, for calibration

    def counters(self) -> tuple[list[str], dict[str, int]]:
        """The fields this outcome adds 1 to, and the amounts it adds to others."""
        pnl_micro = round(self.pnl_pct * MICRO)
        ones = ["outcomes", f"outcome:{self.outcome.value}"]
        amounts = {"pnl_sum_micro": pnl_micro, "label_delay_days_sum": self.label_delay_days}
        if self.joined_by is None:
            ones.append("unmatched")
        else:
            ones += ["joined", f"joined_by:{self.joined_by}"]
        if self.labelled:
            ones.append("labelled_rows")
        ml, rule = self.verdicts.get("ml"), self.verdicts.get("rule")
        disagreed = ml is not None and rule is not None and ml is not rule
        if disagreed:
            ones.append("disagree:n")
        for source in SOURCES:
            verdict = self.verdicts.get(source)
            if verdict is None:
                continue
            scopes = [source, f"disagree:{source}"] if disagreed else [source]
            for scope in scopes:
                ones.append(f"{scope}:n")
                if is_right(verdict, self.outcome):
                    ones.append(f"{scope}:right")
                if verdict in BULLISH:
                    ones.append(f"{scope}:bullish")
                    if self.outcome is Outcome.PROFIT:
                        ones.append(f"{scope}:bullish_right")
                    amounts[f"{scope}:bullish_pnl_sum_micro"] = pnl_micro
        self._calibration(ones, amounts)
        return ones, amounts

    def _calibration(self, ones: list[str], amounts: dict[str, int]) -> None:
        """Confidence against correctness, overall and per confidence bin."""
        ml = self.verdicts.get("ml")
        if ml is None or self.ml_confidence is None:
            return
        confidence_micro = round(self.ml_confidence * MICRO)
        right = is_right(ml, self.outcome)
        for scope in ("calib", f"calib_bin:{confidence_bin(self.ml_confidence)}"):
            ones.append(f"{scope}:n")
            if right:
                ones.append(f"{scope}:right")
            amounts[f"{scope}:confidence_sum_micro"] = confidence_micro


def summarize_calibration(counters: Mapping[str, int]) -> dict[str, Any]:
    """Expected accuracy (mean ML confidence), realized accuracy and the expected
    calibration error (bins of 0.1 weighted by their outcomes) over joined outcomes."""
    n = counters.get("calib:n", 0)
    error = 0.0
    for i in range(CONFIDENCE_BINS):
        n_bin = counters.get(f"calib_bin:{i}:n", 0)
        if n_bin:
            gap = counters.get(f"calib_bin:{i}:right", 0) - (
                counters.get(f"calib_bin:{i}:confidence_sum_micro", 0) / MICRO
            )
            error += abs(gap) / n
    return {
        "outcomes": n,
        "expected_accuracy": counters.get("calib:confidence_sum_micro", 0) / MICRO / n
        if n
        else None,
        "realized_accuracy": ratio(counters.get("calib:right", 0), n),
        "calibration_error": error if n else None,
    }


def summarize_source(counters: Mapping[str, int], scope: str) -> dict[str, Any]:
    n = counters.get(f"{scope}:n", 0)
    right = counters.get(f"{scope}:right", 0)
    bullish = counters.get(f"{scope}:bullish", 0)
    pnl_sum = counters.get(f"{scope}:bullish_pnl_sum_micro", 0) / MICRO
    return {
        "count": n,
        "correct": right,
        "accuracy": ratio(right, n),
        "bullish_calls": bullish,
        "bullish_precision": ratio(counters.get(f"{scope}:bullish_right", 0), bullish),
        "bullish_pnl_pct_mean": pnl_sum / bullish if bullish else None,
        "bullish_pnl_pct_total": pnl_sum,
    }


def summarize_feedback(counters: Mapping[str, int]) -> dict[str, Any]:
    """Scoring figures of one window (or all time), from its counters."""
    total = counters.get("outcomes", 0)
    sources = {s: summarize_source(counters, s) for s in SOURCES}
    disagreements = {s: summarize_source(counters, f"disagree:{s}") for s in SOURCES}
    ml_right, rule_right = disagreements["ml"]["correct"], disagreements["rule"]["correct"]
    n_disagree = counters.get("disagree:n", 0)
    winner = None
    if n_disagree:
        winner = "ml" if ml_right > rule_right else "rule" if rule_right > ml_right else "tie"
    return {
        "total_outcomes": total,
        "ml_accuracy": sources["ml"]["accuracy"],
        "rule_accuracy": sources["rule"]["accuracy"],
        "final_accuracy": sources["final"]["accuracy"],
        "ml_correct": sources["ml"]["correct"],
        "rule_correct": sources["rule"]["correct"],
        "final_correct": sources["final"]["correct"],
        "avg_pnl_pct": counters.get("pnl_sum_micro", 0) / MICRO / total if total else None,
        "outcomes": {o.value: counters.get(f"outcome:{o.value}", 0) for o in Outcome},
        "joined": counters.get("joined", 0),
        "joined_by_id": counters.get("joined_by:id", 0),
        "joined_by_ticker_date": counters.get("joined_by:ticker_date", 0),
        "unmatched": counters.get("unmatched", 0),
        "avg_label_delay_days": ratio(counters.get("label_delay_days_sum", 0), total),
        "labelled_rows": counters.get("labelled_rows", 0),
        "by_source": sources,
        "disagreements": {"count": n_disagree, "winner": winner, **disagreements},
        "calibration": summarize_calibration(counters),
    }
