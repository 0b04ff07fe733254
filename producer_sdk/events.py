"""Event models: the one schema the trading pipeline, the SDK and the workers share.

Every event travels as one JSON object in the `event` field of a stream entry. The models
reject what a consumer could not use (bad tickers, confidences outside [0, 1], naive
timestamps, NaN) at the producer, before anything is sent.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from producer_sdk.vocabulary import EventType, Outcome, Verdict, VerdictSource

SCHEMA_VERSION: Literal[1] = 1

MAX_FEATURES = 256
MAX_TICKERS = 10_000
MAX_EXTRAS = 64

# What a sane `ts` is: late enough for every zone and date computation to hold, and not
# further ahead of the receiver's clock than clock skew explains (the worker's
# `MLMON_MAX_CLOCK_SKEW_S`, given as validation context `max_clock_skew_s`).
EARLIEST_TS = datetime(1971, 1, 1, tzinfo=UTC)
DEFAULT_MAX_CLOCK_SKEW_S = 3600.0
CLOCK_SKEW_CONTEXT = "max_clock_skew_s"

# the training CSV's label column: a feature of this name would be confused with it
RESERVED_FEATURE_NAMES = frozenset({"label"})

TICKER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9&_-]{0,19}(\.[A-Z]{1,4})?$")


def new_event_id() -> str:
    """A random, unique idempotency key (32 hex characters)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


def _normalize_ticker(value: object) -> object:
    if not isinstance(value, str):
        return value
    ticker = value.strip().upper()
    if not TICKER_PATTERN.fullmatch(ticker):
        raise ValueError(
            f"invalid ticker {value!r}: expected a symbol with an optional exchange suffix, "
            "such as RELIANCE.NS, TCS.BO or AAPL"
        )
    return ticker


EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Ticker = Annotated[str, Field(min_length=1, max_length=24)]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]
# not starting like a spreadsheet formula: names become the training CSV's header
FeatureName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^=+\-@\t\r]")
]
ExtraValue = float | int | bool | Annotated[str, StringConstraints(max_length=256)] | None


class _Event(BaseModel):
    """Fields every event carries; `event_id` is the consumers' idempotency key."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        use_enum_values=False,
        str_max_length=256,
    )

    event_id: EventId = Field(default_factory=new_event_id)
    ts: AwareDatetime = Field(default_factory=utc_now)
    schema_version: Literal[1] = SCHEMA_VERSION

    @field_validator("ts")
    @classmethod
    def _ts_sane(cls, value: datetime, info: ValidationInfo) -> datetime:
        context = info.context if isinstance(info.context, dict) else {}
        skew_s = float(context.get(CLOCK_SKEW_CONTEXT, DEFAULT_MAX_CLOCK_SKEW_S))
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value.isoformat()} is out of range in UTC") from None
        if utc < EARLIEST_TS:
            raise ValueError(f"{value.isoformat()} is before {EARLIEST_TS.date().isoformat()}")
        ahead_s = (utc - utc_now()).total_seconds()
        if ahead_s > skew_s:
            raise ValueError(
                f"{value.isoformat()} is {ahead_s:.0f} s in the future "
                f"(more than the {skew_s:.0f} s of clock skew allowed)"
            )
        return value


class Prediction(_Event):
    """One verdict for one stock, from the ML model and from the rules."""

    type: Literal[EventType.PREDICTION] = EventType.PREDICTION
    ticker: Ticker
    ml_verdict: Verdict | None = None
    ml_confidence: Confidence | None = None
    rule_verdict: Verdict
    final_verdict: Verdict
    verdict_source: VerdictSource
    features: dict[FeatureName, float] | None = Field(default=None, max_length=MAX_FEATURES)
    model_version: ShortText | None = None

    _ticker = field_validator("ticker", mode="before")(_normalize_ticker)

    @field_validator("features")
    @classmethod
    def _feature_names_free(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        clash = sorted(RESERVED_FEATURE_NAMES & set(value or {}))
        if clash:
            raise ValueError(
                f"feature name {clash[0]!r} is reserved (the training data's label column)"
            )
        return value

    @model_validator(mode="after")
    def _ml_fields_consistent(self) -> Prediction:
        if self.verdict_source is VerdictSource.ML and self.ml_verdict is None:
            raise ValueError("verdict_source 'ml' requires an ml_verdict")
        if self.ml_confidence is not None and self.ml_verdict is None:
            raise ValueError("ml_confidence given without an ml_verdict")
        return self

    @property
    def agrees(self) -> bool | None:
        """Whether ML and rules agree; None when ML did not run."""
        if self.ml_verdict is None:
            return None
        return self.ml_verdict is self.rule_verdict


class AnalysisCompleted(_Event):
    """A batch analysis of many stocks finished (a retraining trigger)."""

    type: Literal[EventType.ANALYSIS_COMPLETED] = EventType.ANALYSIS_COMPLETED
    batch_id: ShortText
    n_stocks: int = Field(ge=0, le=1_000_000)
    tickers: list[Ticker] | None = Field(default=None, max_length=MAX_TICKERS)
    duration_s: float = Field(ge=0.0)

    @field_validator("tickers", mode="before")
    @classmethod
    def _tickers(cls, value: object) -> object:
        if isinstance(value, list):
            return [_normalize_ticker(item) for item in value]
        return value


class BacktestCompleted(_Event):
    """A backtest finished (a retraining trigger)."""

    type: Literal[EventType.BACKTEST_COMPLETED] = EventType.BACKTEST_COMPLETED
    backtest_id: ShortText
    n_trades: int = Field(ge=0)
    win_rate: float = Field(ge=0.0, le=1.0)
    total_return_pct: float
    extras: dict[ShortText, ExtraValue] | None = Field(default=None, max_length=MAX_EXTRAS)


class TradeOutcome(_Event):
    """What actually happened to a trade taken on a prediction."""

    type: Literal[EventType.TRADE_OUTCOME] = EventType.TRADE_OUTCOME
    prediction_id: EventId | None = None
    ticker: Ticker
    prediction_date: date = Field(ge=EARLIEST_TS.date(), le=date(9000, 1, 1))
    ml_verdict: Verdict | None = None
    rule_verdict: Verdict | None = None
    final_verdict: Verdict | None = None
    actual_outcome: Outcome
    pnl_pct: float = Field(ge=-100.0, le=100_000.0)
    holding_days: int = Field(ge=0, le=36_500)

    _ticker = field_validator("ticker", mode="before")(_normalize_ticker)


Event = Annotated[
    Prediction | AnalysisCompleted | BacktestCompleted | TradeOutcome,
    Field(discriminator="type"),
]
EVENT_MODELS: tuple[type[_Event], ...] = (
    Prediction,
    AnalysisCompleted,
    BacktestCompleted,
    TradeOutcome,
)
AnyEvent = Prediction | AnalysisCompleted | BacktestCompleted | TradeOutcome
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)


def parse_event(
    data: str | bytes, *, max_clock_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S
) -> AnyEvent:
    """Validate one event from its JSON text; raises pydantic's ValidationError.

    `max_clock_skew_s`: how far ahead of this host's clock a `ts` may be.
    """
    return EVENT_ADAPTER.validate_json(data, context={CLOCK_SKEW_CONTEXT: max_clock_skew_s})


def event_json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event, keyed by its `type`, for producers in other languages."""
    schemas: dict[str, dict[str, Any]] = {}
    for model in EVENT_MODELS:
        type_field = model.model_fields["type"].default
        schemas[type_field.value] = model.model_json_schema()
    return schemas
