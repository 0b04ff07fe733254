"""The hot path of decoding: a prediction validated by msgspec, pydantic only when it refuses.

pydantic's `validate_json` of a prediction, with the models' Python validators, cost about
11 us per event and group, the largest single item of a consumer's time. msgspec checks the
same constraints in about 2 us. It is stricter than pydantic, never looser: whatever it
refuses (a lowercase ticker pydantic would normalise, a missing field pydantic would
default, a `ts` near a limit, anything invalid) goes to `parse_event` as before, which
either accepts it or gives the dead-letter reason it always gave. What it accepts becomes
the very `Prediction` pydantic would have built: the same field values and types, so
handlers, equality and `model_dump_json` cannot tell the two apart
(`tests/test_fast_decode.py` checks this against pydantic on generated and mutated events).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from producer_sdk.events import (
    EARLIEST_TS,
    MAX_FEATURES,
    RESERVED_FEATURE_NAMES,
    Prediction,
)
from producer_sdk.vocabulary import EventType, Verdict, VerdictSource

# Patterns are checked here rather than by msgspec (which calls Python's `re` per string,
# three times the cost of decoding): an event id with `str.isalnum` first, tickers and
# feature names against the ones already seen (a few hundred, checked once each).
# `fullmatch`: pydantic's regex engine reads `$` as the end of the text, Python's `re` also
# before a final newline
_EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# a ticker already in the form `_normalize_ticker` returns (upper case, stripped), so the
# value is the one pydantic would keep; any other spelling goes to pydantic
_TICKER = re.compile(r"[A-Z0-9][A-Z0-9&_-]{0,19}(\.[A-Z]{1,4})?")
_FEATURE_NAME_FIRST_NOT = frozenset("=+-@\t\r")  # FeatureName's pattern
_SEEN_CAP = 10_000  # names and tickers remembered as valid; more start the memory afresh
_FINITE = sys.float_info.max  # NaN and inf fail both bounds, as allow_inf_nan=False refuses
# a margin around the clock checks of `_ts_sane`: a `ts` that close to a limit is decided
# by pydantic, so both paths never disagree on which side of it an event is
_EDGE_S = 1.0
_EARLIEST_S = EARLIEST_TS.timestamp() + _EDGE_S

FeatureValue = Annotated[float, msgspec.Meta(ge=-_FINITE, le=_FINITE)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class _Prediction(msgspec.Struct, forbid_unknown_fields=True):
    """`Prediction`'s constraints but its patterns, every field required that the SDK
    always writes."""

    event_id: Annotated[str, msgspec.Meta(max_length=64)]
    ts: Annotated[datetime, msgspec.Meta(tz=True)]
    schema_version: Literal[1]
    type: Literal["prediction"]
    ticker: Annotated[str, msgspec.Meta(max_length=24)]
    rule_verdict: Verdict
    final_verdict: Verdict
    verdict_source: VerdictSource
    ml_verdict: Verdict | None = None
    ml_confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    features: Annotated[dict[str, FeatureValue], msgspec.Meta(max_length=MAX_FEATURES)] | None = (
        None
    )
    model_version: Short | None = None


_DECODE = msgspec.json.Decoder(_Prediction).decode
_FIELDS_SET = frozenset(Prediction.model_fields)
_new = object.__new__
_set = object.__setattr__
_tickers: set[str] = set()
_feature_names: set[str] = set()


def fast_prediction(raw: bytes, *, max_clock_skew_s: float) -> Prediction | None:
    """The prediction in `raw` when msgspec can vouch for it; None to ask pydantic."""
    try:
        p = _DECODE(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if not _checks_pass(p, max_clock_skew_s):
        return None
    return _built(
        {
            "event_id": p.event_id,
            "ts": p.ts,
            "schema_version": 1,
            "type": EventType.PREDICTION,
            "ticker": p.ticker,
            "ml_verdict": p.ml_verdict,
            "ml_confidence": p.ml_confidence,
            "rule_verdict": p.rule_verdict,
            "final_verdict": p.final_verdict,
            "verdict_source": p.verdict_source,
            "features": p.features,
            "model_version": p.model_version,
        }
    )


def _checks_pass(p: _Prediction, max_clock_skew_s: float) -> bool:
    """The checks msgspec does not make: patterns, `_ts_sane`, `_ml_fields_consistent`,
    `_feature_names_free`."""
    if not _EARLIEST_S <= p.ts.timestamp() <= time.time() + max_clock_skew_s - _EDGE_S:
        return False
    event_id = p.event_id
    if not (event_id.isalnum() and event_id.isascii()) and not _EVENT_ID.fullmatch(event_id):
        return False
    if p.ticker not in _tickers and not _remember(_tickers, p.ticker, _ticker_valid):
        return False
    if p.ml_verdict is None and (
        p.verdict_source is VerdictSource.ML or p.ml_confidence is not None
    ):
        return False
    features = p.features
    return (
        not features
        or features.keys() <= _feature_names
        or all(_remember(_feature_names, name, _name_valid) for name in features)
    )


def _ticker_valid(ticker: str) -> bool:
    return _TICKER.fullmatch(ticker) is not None


def _name_valid(name: str) -> bool:
    return (
        0 < len(name) <= 64
        and name[0] not in _FEATURE_NAME_FIRST_NOT
        and name not in RESERVED_FEATURE_NAMES
    )


def _remember(seen: set[str], value: str, valid: Callable[[str], bool]) -> bool:
    """Whether `value` is valid; a valid one is remembered in `seen`."""
    if value in seen:
        return True
    if not valid(value):
        return False
    if len(seen) >= _SEEN_CAP:
        seen.clear()
    seen.add(value)
    return True


def _built(values: dict[str, Any]) -> Prediction:
    """A `Prediction` holding `values`, which are valid (the constructor would only check
    them again): what `model_construct` does, without its per-field Python loop."""
    event: Prediction = _new(Prediction)
    _set(event, "__dict__", values)
    _set(event, "__pydantic_fields_set__", set(_FIELDS_SET))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event
