"""One typed settings object, read once from the environment.

Every variable is documented in the README's configuration table. An invalid value stops
startup with one line naming the variable and what it accepts (`SettingsError`).

The settings are a msgspec Struct: every `mlmon` command (and the compose healthcheck every
30 s) reads them, and building a pydantic model of some seventy fields cost each command
about 70 ms of imports and schema building; msgspec converts the environment's strings
with the same constraints in well under a millisecond.
"""

from __future__ import annotations

import contextlib
import os
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from producer_sdk.connection import RedisUrlError, is_sentinel_url, parse_sentinel_url
from producer_sdk.streams import DEFAULT_PREFIX, DEFAULT_STREAM_MAXLEN
from worker.market import MarketSchedule, parse_days, parse_holidays, parse_hours

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DURATION_PATTERN = r"^\d+(\.\d+)?[smhd]$"  # 30s, 5m, 4h, 1d
HTTP_URL_PATTERN = r"^https?://\S+$"
EMAIL_PATTERN = r"^[^@\s,]+@[^@\s,]+(,[^@\s,]+@[^@\s,]+)*$"  # one or more, comma-separated
DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})  # what pydantic took
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})
MASK = "***"
MSGSPEC_KINDS = {  # msgspec's words for a type -> this module's one-line messages
    "bool": "must be true or false (or 1/0, yes/no, on/off)",
    "int | null": "must be a whole number",
    "float | null": "must be a number",
    "str | null": "must be text",
    "int": "must be a whole number",
    "float": "must be a number",
    "str": "must be text",
}


class SettingsError(Exception):
    """A setting has a value mlmon cannot run with; the message is one line."""


class Secret:
    """A secret setting: its value only through `get_secret_value()`, never in a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def env(
    name: str, *, secret_chars: tuple[int, int] | None = None, **constraints: Any
) -> msgspec.Meta:
    """A field's environment variable and its constraints (msgspec's `Meta`); a `Secret`
    field's (min, max) length goes in `secret_chars` (msgspec constrains only its own types)."""
    extra: dict[str, Any] = {"env": name}
    if secret_chars is not None:
        extra["secret_chars"] = secret_chars
    return msgspec.Meta(extra=extra, **constraints)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """mlmon's configuration; each field's `env(...)` names its environment variable."""

    redis_url: Annotated[str, env("REDIS_URL")] = DEFAULT_REDIS_URL
    # RQ's own variable: the prefix of every key RQ keeps (queues, jobs, workers, registries)
    rq_key_prefix: (
        Annotated[str, env("RQ_KEY_PREFIX", pattern=r"^[A-Za-z0-9_.:{}-]{1,64}$")] | None
    ) = None
    prefix: Annotated[
        str,
        env(
            "MLMON_PREFIX",
            min_length=1,
            max_length=32,
            pattern=r"^[A-Za-z0-9_.-]*(\{[A-Za-z0-9_.-]+\})?[A-Za-z0-9_.-]*$",
        ),
    ] = DEFAULT_PREFIX
    home: Annotated[Path, env("MLMON_HOME")] = Path()
    timezone: Annotated[str, env("MLMON_TIMEZONE")] = "Asia/Kolkata"
    stream_maxlen: Annotated[int, env("MLMON_STREAM_MAXLEN", ge=1000, le=1_000_000_000)] = (
        DEFAULT_STREAM_MAXLEN
    )
    batch_size: Annotated[int, env("MLMON_BATCH_SIZE", ge=1, le=10_000)] = 500
    block_ms: Annotated[int, env("MLMON_BLOCK_MS", ge=1, le=60_000)] = 2000
    dedup_ttl_hours: Annotated[float, env("MLMON_DEDUP_TTL_HOURS", gt=0, le=8760)] = 24.0
    max_deliveries: Annotated[int, env("ML_MAX_DELIVERIES", ge=1, le=1000)] = 5
    max_clock_skew_s: Annotated[int, env("MLMON_MAX_CLOCK_SKEW_S", ge=0, le=7 * 86_400)] = 3_600
    claim_idle_ms: Annotated[int, env("MLMON_CLAIM_IDLE_MS", ge=100, le=86_400_000)] = 60_000
    heartbeat_s: Annotated[int, env("MLMON_HEARTBEAT_S", ge=1, le=3600)] = 5
    health_max_lag: Annotated[int, env("MLMON_HEALTH_MAX_LAG", ge=0, le=1_000_000_000)] = 10_000
    recent_predictions: Annotated[int, env("MLMON_RECENT_PREDICTIONS", ge=1, le=1000)] = 50
    log_level: Annotated[str, env("MLMON_LOG_LEVEL")] = "INFO"
    stream_retention_days: Annotated[int, env("ML_STREAM_RETENTION_DAYS", ge=1, le=3650)] = 7
    log_compress_days: Annotated[int, env("ML_LOG_COMPRESS_DAYS", ge=1, le=36_500)] | None = None
    log_retention_days: Annotated[int, env("ML_LOG_RETENTION_DAYS", ge=1, le=36_500)] | None = None
    retention_check_minutes: Annotated[
        float, env("MLMON_RETENTION_CHECK_MINUTES", gt=0, le=1440)
    ] = 10.0
    drift_confidence_threshold: Annotated[
        float, env("ML_DRIFT_CONFIDENCE_THRESHOLD", gt=0, le=1)
    ] = 0.1
    drift_agreement_threshold: Annotated[float, env("ML_DRIFT_AGREEMENT_THRESHOLD", gt=0, le=1)] = (
        0.15
    )
    drift_usage_threshold: Annotated[float, env("ML_DRIFT_USAGE_THRESHOLD", gt=0, le=1)] = 0.15
    drift_min_samples: Annotated[int, env("ML_DRIFT_MIN_SAMPLES", ge=1, le=10_000_000)] = 100
    drift_window: Annotated[str, env("ML_DRIFT_WINDOW", pattern=r"^(1h|24h|7d)$")] = "24h"
    baseline_samples: Annotated[int, env("ML_BASELINE_SAMPLES", ge=1, le=10_000_000)] = 500
    ph_delta: Annotated[float, env("ML_PH_DELTA", ge=0, le=1)] = 0.01
    ph_lambda: Annotated[float, env("ML_PH_LAMBDA", gt=0, le=1000)] = 5.0
    target_ml_usage: Annotated[float, env("ML_TARGET_ML_USAGE", ge=0, le=1)] = 0.8
    target_agreement: Annotated[float, env("ML_TARGET_AGREEMENT", ge=0, le=1)] = 0.6
    target_avg_confidence: Annotated[float, env("ML_TARGET_AVG_CONFIDENCE", ge=0, le=1)] = 0.75
    retrain_on_drift: Annotated[bool, env("ML_RETRAIN_ON_DRIFT")] = True
    alert_for: Annotated[str, env("ML_ALERT_FOR", pattern=DURATION_PATTERN)] = "5m"
    alert_repeat: Annotated[str, env("ML_ALERT_REPEAT", pattern=DURATION_PATTERN)] = "4h"
    alert_check_s: Annotated[float, env("ML_ALERT_CHECK_S", gt=0, le=3600)] = 30.0
    alert_retries: Annotated[str, env("ML_ALERT_RETRIES", pattern=r"^\d+(,\d+){0,9}$")] = "5,30,120"
    alert_lag: Annotated[int, env("ML_ALERT_LAG", ge=0, le=1_000_000_000)] = 10_000
    alert_webhook_url: (
        Annotated[str, env("ML_ALERT_WEBHOOK_URL", max_length=2000, pattern=HTTP_URL_PATTERN)]
        | None
    ) = None
    alert_webhook_secret: (
        Annotated[Secret, env("ML_ALERT_WEBHOOK_SECRET", secret_chars=(1, 512))] | None
    ) = None
    alert_slack_webhook_url: (
        Annotated[Secret, env("ML_ALERT_SLACK_WEBHOOK_URL", secret_chars=(1, 2_000))] | None
    ) = None
    alert_telegram_token: (
        Annotated[Secret, env("ML_ALERT_TELEGRAM_TOKEN", secret_chars=(1, 512))] | None
    ) = None
    alert_telegram_chat_id: (
        Annotated[str, env("ML_ALERT_TELEGRAM_CHAT_ID", max_length=128)] | None
    ) = None
    alert_telegram_api_base: Annotated[
        str, env("ML_ALERT_TELEGRAM_API_BASE", pattern=HTTP_URL_PATTERN)
    ] = "https://api.telegram.org"
    alert_smtp_host: Annotated[str, env("ML_ALERT_SMTP_HOST", max_length=255)] | None = None
    alert_smtp_port: Annotated[int, env("ML_ALERT_SMTP_PORT", ge=1, le=65_535)] = 587
    alert_smtp_user: Annotated[str, env("ML_ALERT_SMTP_USER", max_length=255)] | None = None
    alert_smtp_password: (
        Annotated[Secret, env("ML_ALERT_SMTP_PASSWORD", secret_chars=(1, 512))] | None
    ) = None
    alert_smtp_starttls: Annotated[bool, env("ML_ALERT_SMTP_STARTTLS")] = True
    alert_email_from: Annotated[str, env("ML_ALERT_EMAIL_FROM", pattern=EMAIL_PATTERN)] = (
        "mlmon@localhost"
    )
    alert_email_to: Annotated[str, env("ML_ALERT_EMAIL_TO", pattern=EMAIL_PATTERN)] | None = None
    market_hours: Annotated[str, env("ML_MARKET_HOURS", max_length=16)] | None = None
    market_days: Annotated[str, env("ML_MARKET_DAYS", max_length=64)] = "mon-fri"
    market_holidays: Annotated[str, env("ML_MARKET_HOLIDAYS", max_length=10_000)] | None = None
    dashboard_token: (
        Annotated[Secret, env("MLMON_DASHBOARD_TOKEN", secret_chars=(16, 512))] | None
    ) = None
    dashboard_hosts: (
        Annotated[str, env("MLMON_DASHBOARD_HOSTS", pattern=r"^[\w.:-]+( *, *[\w.:-]+)*$")] | None
    ) = None
    spool_dir: Annotated[Path, env("MLMON_SPOOL_DIR")] | None = None
    spool_max_mb: Annotated[float, env("MLMON_SPOOL_MAX_MB", gt=0, le=1_000_000)] = 64.0
    feedback_join_days: Annotated[int, env("ML_FEEDBACK_JOIN_DAYS", ge=1, le=3650)] = 90
    label_rule: Annotated[str, env("ML_LABEL_RULE", pattern=r"^(default|[\w.]+:\w+)$")] = "default"
    strong_buy_pnl_pct: Annotated[float, env("ML_STRONG_BUY_PNL", gt=0, le=1000)] = 5.0
    retrain_interval_hours: Annotated[float, env("ML_RETRAINING_INTERVAL_HOURS", ge=0, le=8760)] = (
        24.0
    )
    retrain_min_new_samples: Annotated[
        int, env("ML_RETRAIN_MIN_NEW_SAMPLES", ge=0, le=1_000_000_000)
    ] = 200
    retrain_analysis_min_stocks: Annotated[
        int, env("ML_RETRAIN_ANALYSIS_MIN_STOCKS", ge=0, le=1_000_000)
    ] = 50
    retrain_max_per_day: Annotated[int, env("ML_RETRAIN_MAX_PER_DAY", ge=1, le=1000)] = 3
    retrain_job_timeout_s: Annotated[int, env("ML_RETRAIN_JOB_TIMEOUT_S", ge=10, le=86_400)] = 1800
    retrain_check_minutes: Annotated[float, env("ML_RETRAIN_CHECK_MINUTES", gt=0, le=1440)] = 10.0
    auto_backup: Annotated[bool, env("ML_AUTO_BACKUP")] = True
    backup_keep: Annotated[int, env("ML_BACKUP_KEEP", ge=1, le=1000)] = 10
    promotion_tolerance: Annotated[float, env("ML_PROMOTION_TOLERANCE", ge=0, le=1)] = 0.01
    trainer: Annotated[str, env("ML_TRAINER", pattern=r"^(default|[\w.]+:\w+)$")] = "default"
    train_threads: Annotated[int, env("ML_TRAIN_THREADS", ge=1, le=256)] = 1
    model_name: Annotated[str, env("ML_MODEL_NAME", pattern=r"^[A-Za-z0-9_-]{1,64}$")] = (
        "verdict_model"
    )

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (by field name), for tests and the demo."""
        return msgspec.structs.replace(self, **changes)

    @property
    def rq_prefix(self) -> str:
        """Where RQ keeps this deployment's keys: `RQ_KEY_PREFIX`, else `<prefix>:rq`, so
        two deployments (or another RQ application) in one Redis never share a key."""
        return self.rq_key_prefix or rq_prefix_for(self.prefix)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def market(self) -> MarketSchedule:
        """The sessions in which traffic is expected (ML_MARKET_HOURS, _DAYS, _HOLIDAYS)."""
        return MarketSchedule.parse(
            self.market_hours, self.market_days, self.market_holidays, zone=self.zone
        )

    @property
    def alert_for_s(self) -> float:
        return duration_s(self.alert_for)

    @property
    def alert_retry_intervals_s(self) -> list[int]:
        """Seconds before each retry of a failed delivery (`ML_ALERT_RETRIES`)."""
        return [int(part) for part in self.alert_retries.split(",")]

    @property
    def alert_repeat_s(self) -> float:
        return duration_s(self.alert_repeat)

    @property
    def redis_url_set(self) -> bool:
        """Whether the user chose a Redis (then mlmon never starts one of its own)."""
        return "REDIS_URL" in os.environ

    @property
    def dedup_ttl_s(self) -> int:
        return int(self.dedup_ttl_hours * 3600)

    @property
    def predictions_log_dir(self) -> Path:
        return self.home / "logs" / "ml_predictions"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def feedback_csv(self) -> Path:
        return self.data_dir / "ml_feedback.csv"

    @property
    def training_csv(self) -> Path:
        return self.data_dir / "ml_training_data.csv"

    @property
    def feedback_lock(self) -> Path:
        """Held while the feedback and training CSVs are appended to or read whole."""
        return self.data_dir / ".feedback.lock"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def retraining_history(self) -> Path:
        return self.home / "logs" / "ml_retraining_history.txt"

    def masked_redis_url(self) -> str:
        """The Redis URL with any password replaced, for logs and messages."""
        return mask_url(self.redis_url)


def rq_prefix_for(prefix: str) -> str:
    return f"{prefix}:rq"


def duration_s(text: str) -> float:
    """'30s', '5m', '4h', '1d' -> seconds."""
    return float(text[:-1]) * DURATION_UNITS_S[text[-1]]


def mask_url(url: str) -> str:
    """`url` with its password and every credential-like query value replaced by ***, for
    logs, messages and `mlmon config`.

    It does not trust `urlsplit` with the user part: a password with an unescaped `/`, `#`
    or `?` would end the netloc early and show its tail. Everything between `://` and the
    last `@` is the user part (over-masking a query that holds an `@` is harmless), and
    anything that does not even parse is masked whole.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url if "@" not in url else MASK
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = (f"{user}:{MASK}" if colon else MASK) + rest[at:]
    try:
        parts = urlsplit(f"{scheme}://{rest}")
    except ValueError:
        return f"{scheme}://{MASK}"
    query = urlencode(
        [(k, MASK if _secret_word(k) else v) for k, v in parse_qsl(parts.query, True)],
        safe="*",
    )
    return urlunsplit(parts._replace(query=query))


def _secret_word(name: str) -> bool:
    """A query parameter that carries a credential (`?password=`, `?token=`, `?sig=`...)."""
    lowered = name.lower()
    return lowered in {"sig", "signature", "pwd"} or any(
        word in lowered for word in ("pass", "token", "secret", "key", "auth")
    )


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; raise SettingsError with a one-line message.

    `overrides` take environment variable names: `load_settings(MLMON_PREFIX="test")`.
    """
    given: dict[str, object] = {
        name: os.environ[name] for name in FIELD_OF_ENV if name in os.environ
    }
    given |= overrides
    unknown = sorted(set(overrides) - set(FIELD_OF_ENV))
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
    raw = {
        FIELD_OF_ENV[name]: _normalised(FIELD_OF_ENV[name], value) for name, value in given.items()
    }
    raw = {field: value for field, value in raw.items() if value is not None}
    try:
        settings = msgspec.convert(raw, Settings, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as e:
        raise SettingsError(_one_line(e, given)) from e
    for field, check in FIELD_CHECKS.items():
        value = getattr(settings, field)
        try:
            if value is not None:
                check(value)
        except ValueError as e:
            raise SettingsError(_line(field, given, str(e))) from e
    for field, (min_chars, max_chars) in SECRET_CHARS.items():
        secret = getattr(settings, field)
        if secret is not None and not min_chars <= len(secret.get_secret_value()) <= max_chars:
            message = f"must be {min_chars} to {max_chars} characters long"
            raise SettingsError(_line(field, given, message))
    return settings


def _normalised(field: str, value: object) -> object:
    """Environment text as the settings read it: None for an empty optional; numbers and
    booleans as Python writes them (`+7`, `1_000`, ` 5 `, `yes`, `t`), parsed here; any
    other text exactly as given (a secret or a path may start or end with a space)."""
    if not isinstance(value, str):
        return value
    if value.strip() == "" and FIELD_DEFAULTS[field] is None:
        return None  # an empty variable means unset, as compose files write it
    kind = SCALAR_KINDS.get(field)
    text = value.strip() if kind else value
    if kind is bool and text.lower() in TRUE_WORDS | FALSE_WORDS:
        return text.lower() in TRUE_WORDS
    if kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    if field == "log_level":
        return value.strip().upper()
    return text


def _decode(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    if kind is Secret and isinstance(value, str):
        return Secret(value)
    raise NotImplementedError(f"cannot read {kind.__name__} from {type(value).__name__}")


def _one_line(error: msgspec.ValidationError, given: Mapping[str, object]) -> str:
    """`NAME='value' is invalid: what is wrong (allowed: range)`, secrets masked."""
    text = str(error)
    match = re.search(r"at `\$\.(\w+)`", text)
    field = match.group(1) if match else ""
    message = re.sub(r"\s*- at `\$[^`]*`$", "", text)
    for kind, words in MSGSPEC_KINDS.items():
        message = message.replace(f"Expected `{kind}`", words)
    if message.startswith(MSGSPEC_KINDS["bool"]):
        message = MSGSPEC_KINDS["bool"]  # without msgspec's "got `str`"
    allowed = ALLOWED_RANGES.get(field)
    if allowed:
        message += f" (allowed: {allowed})"
    return _line(field, given, message)


def _line(field: str, given: Mapping[str, object], message: str) -> str:
    name = ENV_OF_FIELD.get(field, field or "?")
    shown = given.get(name, "")
    if field in SECRET_FIELDS:
        shown = MASK
    elif isinstance(shown, str) and "://" in shown:
        shown = mask_url(shown)
    return f"{name}={shown!r} is invalid: {message}"


def _check_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from e


def _check_redis_url(value: str) -> None:
    parts = urlsplit(value)
    if is_sentinel_url(value):
        try:
            parse_sentinel_url(value)
        except RedisUrlError as e:
            raise ValueError(str(e)) from e
        return
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(
            "must start with redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://"
        )
    try:
        parts.port  # noqa: B018  (parsing it is the check)
    except ValueError as e:
        raise ValueError("the port must be a number from 0 to 65535") from e


def _check_folder(value: Path) -> None:
    if value.exists() and not value.is_dir():
        raise ValueError("must be a folder (this path is a file)")


def _check_log_level(value: str) -> None:
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")


def _check_http_secret(value: Secret) -> None:
    if not re.fullmatch(HTTP_URL_PATTERN, value.get_secret_value()):
        raise ValueError("must be an http(s) URL")


FIELD_CHECKS: dict[str, Callable[[Any], object]] = {  # each raises ValueError
    "timezone": _check_timezone,
    "redis_url": _check_redis_url,
    "home": _check_folder,
    "spool_dir": _check_folder,
    "log_level": _check_log_level,
    "alert_slack_webhook_url": _check_http_secret,
    "market_hours": parse_hours,
    "market_days": parse_days,
    "market_holidays": parse_holidays,
}


def _field_meta(annotation: Any) -> msgspec.Meta:
    """The `env(...)` Meta of a field's annotation (inside `X | None` too)."""
    for part in (annotation, *typing.get_args(annotation)):
        for meta in getattr(part, "__metadata__", ()):
            if isinstance(meta, msgspec.Meta) and meta.extra and "env" in meta.extra:
                return meta
    raise TypeError(f"a settings field without env(...): {annotation!r}")


def _base_type(hint: Any) -> Any:
    """`int` of `Annotated[int, ...]`; the hint itself otherwise."""
    return getattr(hint, "__origin__", hint)


def _allowed_range(meta: msgspec.Meta) -> str | None:
    """A numeric field's whole range, e.g. `0 <= value <= 1`; None without bounds."""
    low = (
        f"{meta.ge} <= " if meta.ge is not None else f"{meta.gt} < " if meta.gt is not None else ""
    )
    high = (
        f" <= {meta.le}" if meta.le is not None else f" < {meta.lt}" if meta.lt is not None else ""
    )
    return f"{low}value{high}" if low or high else None


_HINTS = typing.get_type_hints(Settings, include_extras=True)
_METAS = {field: _field_meta(_HINTS[field]) for field in Settings.__struct_fields__}
ENV_OF_FIELD: dict[str, str] = {field: str(meta.extra["env"]) for field, meta in _METAS.items()}  # type: ignore[index]
FIELD_OF_ENV: dict[str, str] = {name: field for field, name in ENV_OF_FIELD.items()}
ENV_NAMES = tuple(FIELD_OF_ENV)
FIELD_DEFAULTS: dict[str, object] = dict(
    zip(
        Settings.__struct_fields__,
        [f.default for f in msgspec.structs.fields(Settings)],
        strict=True,
    )
)
ALLOWED_RANGES = {
    field: allowed for field, meta in _METAS.items() if (allowed := _allowed_range(meta))
}
SCALAR_KINDS: dict[str, type] = {
    field: kind
    for field, hint in _HINTS.items()
    for kind in (bool, int, float)
    if kind in (getattr(hint, "__origin__", hint), *map(_base_type, typing.get_args(hint)))
}
SECRET_CHARS: dict[str, tuple[int, int]] = {
    field: meta.extra["secret_chars"]  # type: ignore[index]
    for field, meta in _METAS.items()
    if "secret_chars" in (meta.extra or {})
}
SECRET_FIELDS = frozenset(field for field, hint in _HINTS.items() if "Secret" in repr(hint))
