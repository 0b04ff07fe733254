"""The closed sets of the wire contract: verdicts, sources, outcomes and event types.

Plain enums, apart from the pydantic models, so code that only names a verdict (the
worker's counters, status and drift checks) does not pay for building the models.
"""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    """The verdict a model or a rule set gives a stock, strongest first."""

    STRONG_BUY = "strong_buy"
    BUY = "buy"
    WATCH = "watch"
    AVOID = "avoid"


class VerdictSource(str, Enum):
    """Which side produced the final verdict."""

    ML = "ml"
    RULE = "rule"


class Outcome(str, Enum):
    """What the trade made of a verdict."""

    PROFIT = "profit"
    LOSS = "loss"
    NEUTRAL = "neutral"


class EventType(str, Enum):
    """The `type` field of every event; the spelling is part of the wire contract."""

    PREDICTION = "prediction"
    ANALYSIS_COMPLETED = "ANALYSIS_COMPLETED"
    BACKTEST_COMPLETED = "BACKTEST_COMPLETED"
    TRADE_OUTCOME = "trade_outcome"


__all__ = ["EventType", "Outcome", "Verdict", "VerdictSource"]
