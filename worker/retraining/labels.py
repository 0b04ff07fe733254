"""Training labels from trade outcomes (`ML_LABEL_RULE`).

The default: pnl >= `ML_STRONG_BUY_PNL` -> strong_buy, profit -> buy, neutral -> watch,
loss -> avoid. `ML_LABEL_RULE=package.module:function` names your own rule instead, called
as `function(outcome: TradeOutcome, prediction: Prediction) -> Verdict | str`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import partial

from producer_sdk.events import Prediction, TradeOutcome
from producer_sdk.vocabulary import Outcome, Verdict
from worker.settings import SettingsError

LabelRule = Callable[[TradeOutcome, Prediction], Verdict | str]


def default_label(
    outcome: TradeOutcome, _prediction: Prediction, *, strong_buy_pnl_pct: float
) -> Verdict:
    if outcome.actual_outcome is Outcome.PROFIT:
        return Verdict.STRONG_BUY if outcome.pnl_pct >= strong_buy_pnl_pct else Verdict.BUY
    if outcome.actual_outcome is Outcome.NEUTRAL:
        return Verdict.WATCH
    return Verdict.AVOID


def load_label_rule(spec: str, *, strong_buy_pnl_pct: float) -> LabelRule:
    """`default`, or `package.module:function`; fails at start-up, not on the first outcome."""
    if spec == "default":
        return partial(default_label, strong_buy_pnl_pct=strong_buy_pnl_pct)
    return import_callable("ML_LABEL_RULE", spec)  # type: ignore[return-value]


def import_callable(variable: str, spec: str) -> Callable[..., object]:
    """`package.module:function`, or a SettingsError naming the variable."""
    module_name, _, function_name = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as e:
        raise SettingsError(f"{variable}={spec!r} cannot be imported: {e}") from e
    if not callable(found):
        raise SettingsError(f"{variable}={spec!r} is not a function")
    return found  # type: ignore[no-any-return]
