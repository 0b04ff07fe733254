"""One typed settings object, read once from the environment.

Every variable is documented in the README's configuration table. An invalid value stops
startup with one line naming the variable and what it accepts (`SettingsError`).
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo

from producer_sdk.streams import DEFAULT_PREFIX, DEFAULT_STREAM_MAXLEN

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DURATION_PATTERN = r"^\d+(\.\d+)?[smhd]$"  # 30s, 5m, 4h, 1d
HTTP_URL_PATTERN = r"^https?://\S+$"
EMAIL_PATTERN = r"^[^@\s,]+@[^@\s,]+(,[^@\s,]+@[^@\s,]+)*$"  # one or more, comma-separated
DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


class SettingsError(Exception):
    """A setting has a value mlmon cannot run with; the message is one line."""


class Settings(BaseModel):
    """mlmon's configuration. Field aliases are the environment variable names.

    A plain pydantic model read by `load_settings()` rather than a pydantic-settings class:
    that library's import costs every `mlmon` command (and the healthcheck) about 0.1 s,
    and the environment is all it would read here.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())

    redis_url: str = Field(DEFAULT_REDIS_URL, validation_alias="REDIS_URL")
    prefix: str = Field(
        DEFAULT_PREFIX,
        validation_alias="MLMON_PREFIX",
        min_length=1,
        max_length=32,
        # letters, digits, `_.-`, and at most one `{hash tag}`: a prefix like `{mlmon}`
        # keeps every key on one Redis Cluster slot, as the multi-key Lua steps require
        pattern=r"^[A-Za-z0-9_.-]*(\{[A-Za-z0-9_.-]+\})?[A-Za-z0-9_.-]*$",
    )
    # RQ's own variable: the prefix of every key RQ keeps (queues, jobs, workers, registries)
    rq_key_prefix: str | None = Field(
        None, validation_alias="RQ_KEY_PREFIX", pattern=r"^[A-Za-z0-9_.:{}-]{1,64}$"
    )
    home: Path = Field(Path(), validation_alias="MLMON_HOME")
    timezone: str = Field("Asia/Kolkata", validation_alias="MLMON_TIMEZONE")
    stream_maxlen: int = Field(
        DEFAULT_STREAM_MAXLEN, validation_alias="MLMON_STREAM_MAXLEN", ge=1_000, le=1_000_000_000
    )
    batch_size: int = Field(500, validation_alias="MLMON_BATCH_SIZE", ge=1, le=10_000)
    block_ms: int = Field(2_000, validation_alias="MLMON_BLOCK_MS", ge=1, le=60_000)
    dedup_ttl_hours: float = Field(
        24.0, validation_alias="MLMON_DEDUP_TTL_HOURS", gt=0, le=24 * 365
    )
    max_deliveries: int = Field(5, validation_alias="ML_MAX_DELIVERIES", ge=1, le=1_000)
    max_clock_skew_s: int = Field(
        3_600, validation_alias="MLMON_MAX_CLOCK_SKEW_S", ge=0, le=7 * 86_400
    )
    claim_idle_ms: int = Field(
        60_000, validation_alias="MLMON_CLAIM_IDLE_MS", ge=100, le=86_400_000
    )
    heartbeat_s: int = Field(5, validation_alias="MLMON_HEARTBEAT_S", ge=1, le=3_600)
    health_max_lag: int = Field(
        10_000, validation_alias="MLMON_HEALTH_MAX_LAG", ge=0, le=1_000_000_000
    )
    recent_predictions: int = Field(50, validation_alias="MLMON_RECENT_PREDICTIONS", ge=1, le=1_000)
    log_level: str = Field("INFO", validation_alias="MLMON_LOG_LEVEL")
    stream_retention_days: int = Field(
        7, validation_alias="ML_STREAM_RETENTION_DAYS", ge=1, le=3_650
    )
    log_compress_days: int | None = Field(
        None, validation_alias="ML_LOG_COMPRESS_DAYS", ge=1, le=36_500
    )
    log_retention_days: int | None = Field(
        None, validation_alias="ML_LOG_RETENTION_DAYS", ge=1, le=36_500
    )
    retention_check_minutes: float = Field(
        10.0, validation_alias="MLMON_RETENTION_CHECK_MINUTES", gt=0, le=24 * 60
    )
    drift_confidence_threshold: float = Field(
        0.1, validation_alias="ML_DRIFT_CONFIDENCE_THRESHOLD", gt=0, le=1
    )
    drift_agreement_threshold: float = Field(
        0.15, validation_alias="ML_DRIFT_AGREEMENT_THRESHOLD", gt=0, le=1
    )
    drift_usage_threshold: float = Field(
        0.15, validation_alias="ML_DRIFT_USAGE_THRESHOLD", gt=0, le=1
    )
    drift_min_samples: int = Field(
        100, validation_alias="ML_DRIFT_MIN_SAMPLES", ge=1, le=10_000_000
    )
    drift_window: str = Field("24h", validation_alias="ML_DRIFT_WINDOW", pattern=r"^(1h|24h|7d)$")
    baseline_samples: int = Field(500, validation_alias="ML_BASELINE_SAMPLES", ge=1, le=10_000_000)
    ph_delta: float = Field(0.01, validation_alias="ML_PH_DELTA", ge=0, le=1)
    ph_lambda: float = Field(5.0, validation_alias="ML_PH_LAMBDA", gt=0, le=1_000)
    target_ml_usage: float = Field(0.8, validation_alias="ML_TARGET_ML_USAGE", ge=0, le=1)
    target_agreement: float = Field(0.6, validation_alias="ML_TARGET_AGREEMENT", ge=0, le=1)
    target_avg_confidence: float = Field(
        0.75, validation_alias="ML_TARGET_AVG_CONFIDENCE", ge=0, le=1
    )
    retrain_on_drift: bool = Field(True, validation_alias="ML_RETRAIN_ON_DRIFT")
    alert_for: str = Field("5m", validation_alias="ML_ALERT_FOR", pattern=DURATION_PATTERN)
    alert_repeat: str = Field("4h", validation_alias="ML_ALERT_REPEAT", pattern=DURATION_PATTERN)
    alert_check_s: float = Field(30.0, validation_alias="ML_ALERT_CHECK_S", gt=0, le=3_600)
    alert_retries: str = Field(
        "5,30,120", validation_alias="ML_ALERT_RETRIES", pattern=r"^\d+(,\d+){0,9}$"
    )
    alert_lag: int = Field(10_000, validation_alias="ML_ALERT_LAG", ge=0, le=1_000_000_000)
    alert_webhook_url: str | None = Field(
        None, validation_alias="ML_ALERT_WEBHOOK_URL", pattern=HTTP_URL_PATTERN, max_length=2_000
    )
    alert_webhook_secret: SecretStr | None = Field(
        None, validation_alias="ML_ALERT_WEBHOOK_SECRET", max_length=512
    )
    alert_slack_webhook_url: SecretStr | None = Field(
        None,
        validation_alias="ML_ALERT_SLACK_WEBHOOK_URL",
        max_length=2_000,
    )
    alert_telegram_token: SecretStr | None = Field(
        None, validation_alias="ML_ALERT_TELEGRAM_TOKEN", max_length=512
    )
    alert_telegram_chat_id: str | None = Field(
        None, validation_alias="ML_ALERT_TELEGRAM_CHAT_ID", max_length=128
    )
    alert_telegram_api_base: str = Field(
        "https://api.telegram.org",
        validation_alias="ML_ALERT_TELEGRAM_API_BASE",
        pattern=HTTP_URL_PATTERN,
    )
    alert_smtp_host: str | None = Field(None, validation_alias="ML_ALERT_SMTP_HOST", max_length=255)
    alert_smtp_port: int = Field(587, validation_alias="ML_ALERT_SMTP_PORT", ge=1, le=65_535)
    alert_smtp_user: str | None = Field(None, validation_alias="ML_ALERT_SMTP_USER", max_length=255)
    alert_smtp_password: SecretStr | None = Field(
        None, validation_alias="ML_ALERT_SMTP_PASSWORD", max_length=512
    )
    alert_smtp_starttls: bool = Field(True, validation_alias="ML_ALERT_SMTP_STARTTLS")
    alert_email_from: str = Field(
        "mlmon@localhost", validation_alias="ML_ALERT_EMAIL_FROM", pattern=EMAIL_PATTERN
    )
    alert_email_to: str | None = Field(
        None, validation_alias="ML_ALERT_EMAIL_TO", pattern=EMAIL_PATTERN
    )
    spool_dir: Path | None = Field(None, validation_alias="MLMON_SPOOL_DIR")
    spool_max_mb: float = Field(64.0, validation_alias="MLMON_SPOOL_MAX_MB", gt=0, le=1_000_000)
    feedback_join_days: int = Field(90, validation_alias="ML_FEEDBACK_JOIN_DAYS", ge=1, le=3_650)
    label_rule: str = Field(
        "default", validation_alias="ML_LABEL_RULE", pattern=r"^(default|[\w.]+:\w+)$"
    )
    strong_buy_pnl_pct: float = Field(5.0, validation_alias="ML_STRONG_BUY_PNL", gt=0, le=1_000)
    retrain_interval_hours: float = Field(
        24.0, validation_alias="ML_RETRAINING_INTERVAL_HOURS", ge=0, le=24 * 365
    )
    retrain_min_new_samples: int = Field(
        200, validation_alias="ML_RETRAIN_MIN_NEW_SAMPLES", ge=0, le=1_000_000_000
    )
    retrain_analysis_min_stocks: int = Field(
        50, validation_alias="ML_RETRAIN_ANALYSIS_MIN_STOCKS", ge=0, le=1_000_000
    )
    retrain_max_per_day: int = Field(3, validation_alias="ML_RETRAIN_MAX_PER_DAY", ge=1, le=1_000)
    retrain_job_timeout_s: int = Field(
        1_800, validation_alias="ML_RETRAIN_JOB_TIMEOUT_S", ge=10, le=86_400
    )
    retrain_check_minutes: float = Field(
        10.0, validation_alias="ML_RETRAIN_CHECK_MINUTES", gt=0, le=24 * 60
    )
    auto_backup: bool = Field(True, validation_alias="ML_AUTO_BACKUP")
    backup_keep: int = Field(10, validation_alias="ML_BACKUP_KEEP", ge=1, le=1_000)
    promotion_tolerance: float = Field(0.01, validation_alias="ML_PROMOTION_TOLERANCE", ge=0, le=1)
    trainer: str = Field(
        "default", validation_alias="ML_TRAINER", pattern=r"^(default|[\w.]+:\w+)$"
    )
    train_threads: int = Field(1, validation_alias="ML_TRAIN_THREADS", ge=1, le=256)
    model_name: str = Field(
        "verdict_model", validation_alias="ML_MODEL_NAME", pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )

    @field_validator(
        "alert_webhook_url",
        "alert_webhook_secret",
        "alert_slack_webhook_url",
        "alert_telegram_token",
        "alert_telegram_chat_id",
        "alert_smtp_host",
        "alert_smtp_user",
        "alert_smtp_password",
        "alert_email_to",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("alert_slack_webhook_url")
    @classmethod
    def _slack_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(HTTP_URL_PATTERN, value.get_secret_value()):
            raise ValueError("must be an http(s) URL")
        return value

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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from e
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        try:
            parts.port  # noqa: B018  (parsing it is the check)
        except ValueError as e:
            raise ValueError("the port must be a number from 0 to 65535") from e
        return value

    @field_validator("home", "spool_dir")
    @classmethod
    def _a_folder(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("must be a folder (this path is a file)")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

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

    @property
    def rq_prefix(self) -> str:
        """Where RQ keeps this deployment's keys: `RQ_KEY_PREFIX`, else `<prefix>:rq`, so
        two deployments (or another RQ application) in one Redis never share a key."""
        return self.rq_key_prefix or rq_prefix_for(self.prefix)

    def masked_redis_url(self) -> str:
        """The Redis URL with any password replaced, for logs and messages."""
        return mask_url(self.redis_url)


def rq_prefix_for(prefix: str) -> str:
    return f"{prefix}:rq"


def duration_s(text: str) -> float:
    """'30s', '5m', '4h', '1d' -> seconds."""
    return float(text[:-1]) * DURATION_UNITS_S[text[-1]]


# query parameters that carry a credential (redis-py takes `?password=`; webhooks `?token=`)
SECRET_QUERY_NAMES = frozenset(
    {"password", "passwd", "pass", "pwd", "token", "access_token", "secret", "api_key",
     "apikey", "key", "auth", "sig", "signature"}
)  # fmt: skip


def mask_url(url: str) -> str:
    """`url` with the password of its user part and every credential query value as `***`."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, host_port = netloc.rpartition("@")  # host and port as written
            netloc = f"{userinfo.partition(':')[0]}:***@{host_port}"
    except ValueError:  # not even a URL: it may still hold a secret
        return "***"
    query = "&".join(
        f"{name}=***" if name.lower() in SECRET_QUERY_NAMES and sep else f"{name}{sep}{value}"
        for name, sep, value in (item.partition("=") for item in parts.query.split("&"))
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query if parts.query else ""))


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; raise SettingsError with a one-line message.

    `overrides` take environment variable names: `load_settings(MLMON_PREFIX="test")`.
    """
    environment = {name: os.environ[name] for name in ENV_NAMES if name in os.environ}
    try:
        return Settings.model_validate(environment | overrides)
    except ValidationError as e:
        error = e.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        env_name = _env_name(field)
        given = error.get("input")
        if field in SECRET_FIELDS or _env_name(field) in SECRET_ENV_NAMES:
            given = "***"  # a wrong secret is still a secret
        elif isinstance(given, str) and "://" in given:
            given = mask_url(given)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "bool_parsing":
            message = "must be true or false (or 1/0, yes/no, on/off)"
        allowed = _allowed_range(field)
        if allowed is not None:
            message += f" (allowed: {allowed})"
        raise SettingsError(f"{env_name}={given!r} is invalid: {message}") from e


SECRET_FIELDS = frozenset(
    name for name, info in Settings.model_fields.items() if info.annotation == SecretStr | None
)
SECRET_ENV_NAMES = frozenset(
    str(Settings.model_fields[name].validation_alias) for name in SECRET_FIELDS
)


def _env_name(field: str) -> str:
    info = _field_info(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return field


def _field_info(name: str) -> FieldInfo | None:
    """A field by its name or its environment variable (errors carry either)."""
    for field, info in Settings.model_fields.items():
        if name in (field, info.validation_alias):
            return info
    return None


def _allowed_range(field: str) -> str | None:
    """A numeric field's whole range, e.g. `0 <= value <= 1`, since pydantic's message
    names only the bound that was crossed; None for a field without bounds."""
    info = _field_info(field)
    if info is None:
        return None
    low = high = ""
    for bound in info.metadata:  # annotated_types Ge/Gt/Le/Lt, read by attribute
        if (ge := getattr(bound, "ge", None)) is not None:
            low = f"{ge} <= "
        elif (gt := getattr(bound, "gt", None)) is not None:
            low = f"{gt} < "
        elif (le := getattr(bound, "le", None)) is not None:
            high = f" <= {le}"
        elif (lt := getattr(bound, "lt", None)) is not None:
            high = f" < {lt}"
    return f"{low}value{high}" if low or high else None


ENV_NAMES = tuple(
    info.validation_alias
    for info in Settings.model_fields.values()
    if isinstance(info.validation_alias, str)
)
