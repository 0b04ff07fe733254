"""The Page-Hinkley change detector on ML confidence, both directions.

The Lua step of group `metrics` (`worker/lua/apply_batch.lua`) updates the state per event,
atomically with the counters; `step` here is the same update in Python, its reference.

The reference mean starts from the baseline: setting a baseline seeds it with the
baseline's mean confidence, weighted by the baseline's count of confidences (`prior_n`),
so the detector measures change from the baseline. Starting from nothing instead would
take the first events after `mlmon baseline set` as normal, and a shift that happened
before it would never be seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from worker.levels import DriftStatus

STATE_FIELDS = ("n", "prior_n", "mean", "up_sum", "up_min", "down_sum", "down_max")


def seed(mean: float | None, prior_n: int) -> dict[str, float]:
    """The state right after a baseline is set (nothing fed yet)."""
    state = dict.fromkeys(STATE_FIELDS, 0.0)
    if mean is not None and prior_n > 0:
        state |= {"mean": mean, "prior_n": float(prior_n)}
    return state


def step(state: dict[str, float], value: float, delta: float) -> None:
    """Feed one value: cumulative deviations from the running mean, minus `delta` (the
    change too small to matter), upward and downward."""
    state["n"] += 1
    state["mean"] += (value - state["mean"]) / (state["n"] + state.get("prior_n", 0.0))
    state["up_sum"] += value - state["mean"] - delta
    state["up_min"] = min(state["up_min"], state["up_sum"])
    state["down_sum"] += value - state["mean"] + delta
    state["down_max"] = max(state["down_max"], state["down_sum"])


def reference(
    values: Iterable[float], delta: float, *, start: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The state after `values`, from `start` (a `seed`, or nothing)."""
    state = dict.fromkeys(STATE_FIELDS, 0.0) | dict(start or {})
    for value in values:
        step(state, value, delta)
    return state


def score(state: Mapping[str, float]) -> tuple[float, str]:
    """The larger of the upward and downward statistics, and its direction."""
    up = state.get("up_sum", 0.0) - state.get("up_min", 0.0)
    down = state.get("down_max", 0.0) - state.get("down_sum", 0.0)
    return (down, "down") if down >= up else (up, "up")


def check(state: Mapping[str, float] | None, threshold: float) -> dict[str, Any]:
    """The `page_hinkley` row: its score against `threshold` (critical at twice it)."""
    row: dict[str, Any] = {
        "measure": "score",
        "threshold": threshold,
        "critical_threshold": 2 * threshold,
        "comparison": ">",
    }
    if not state or not state.get("n"):
        return {"status": DriftStatus.INSUFFICIENT, "value": None, **row}
    value, direction = score(state)
    status = (
        DriftStatus.CRITICAL
        if value > 2 * threshold
        else DriftStatus.WARN
        if value > threshold
        else DriftStatus.OK
    )
    return {
        "status": status,
        "value": value,
        **row,
        "direction": direction,
        "reference_mean": state.get("mean"),
        "events": int(state["n"]),
    }
