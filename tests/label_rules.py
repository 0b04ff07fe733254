"""Label rules for `ML_LABEL_RULE` in the reliability tests."""

from __future__ import annotations

from producer_sdk import Prediction, TradeOutcome, Verdict


def explode_on_poison(outcome: TradeOutcome, prediction: Prediction) -> Verdict:
    """Fails for one ticker, as a bug in a user's rule would: a poison entry."""
    if outcome.ticker == "POISON.NS":
        raise ValueError("this rule cannot label POISON.NS")
    return Verdict.BUY
