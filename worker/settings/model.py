"""The settings object: every setting, its environment variable, type and bounds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec

from producer_sdk.streams import (
    DEFAULT_PREFIX,
    DEFAULT_STREAM_MAXLEN,
    PARTITION_TAG,
    partition_prefix,
)
from worker.market import MarketSchedule
from worker.settings.values import (
    DEFAULT_REDIS_URL,
    DURATION_PATTERN,
    EMAIL_PATTERN,
    HTTP_URL_PATTERN,
    Secret,
    duration_s,
    env,
    mask_url,
    rq_prefix_for,
)


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
    # Redis Cluster: streams split into this many partitions (hash tags), see worker.keys
    partitions: Annotated[
        int,
        env("MLMON_PARTITIONS", ge=1, le=1024),
    ] = 1
    # RQ cannot run on a Redis Cluster: with a cluster REDIS_URL, its queues live here
    rq_redis_url: Annotated[str, env("MLMON_RQ_REDIS_URL")] | None = None
    home: Annotated[Path, env("MLMON_HOME")] = Path()
    timezone: Annotated[str, env("MLMON_TIMEZONE")] = "Asia/Kolkata"
    stream_maxlen: Annotated[int, env("MLMON_STREAM_MAXLEN", ge=1000, le=1_000_000_000)] = (
        DEFAULT_STREAM_MAXLEN
    )
    batch_size: Annotated[int, env("MLMON_BATCH_SIZE", ge=1, le=10_000)] = 2000
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
    features_monitored: Annotated[int, env("ML_FEATURES_MONITORED", ge=0, le=256)] = 64
    calibration_error_threshold: Annotated[
        float, env("ML_CALIBRATION_ERROR_THRESHOLD", gt=0, le=1)
    ] = 0.1
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
    def partition(self) -> int | None:
        """The partition these settings are for: a partitioned worker's settings carry the
        partition's prefix (`{mlmon-p3}`, `for_partition`); else None."""
        match = PARTITION_TAG.match(self.prefix)
        return None if match is None or self.partitions == 1 else int(match["index"])

    def for_partition(self, index: int) -> Settings:
        """The settings of partition `index`'s consumers: its key prefix, its own files
        (one writer per partition), RQ's keys where they were."""
        return self.replace(
            prefix=partition_prefix(self.prefix, index), rq_key_prefix=self.rq_prefix
        )

    def partition_settings(self) -> list[Settings]:
        """The settings of every partition, whose files readers read together."""
        if self.partitions == 1 or self.partition is not None:
            return [self]
        return [self.for_partition(i) for i in range(self.partitions)]

    @property
    def _partition_dir(self) -> str:
        """`p<i>` for a partition's files (one writer each), else nothing."""
        index = self.partition
        return "" if index is None else f"p{index}"

    @property
    def predictions_log_dir(self) -> Path:
        return self.home / "logs" / "ml_predictions" / self._partition_dir

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def feedback_csv(self) -> Path:
        return self.data_dir / self._partition_dir / "ml_feedback.csv"

    @property
    def training_csv(self) -> Path:
        return self.data_dir / self._partition_dir / "ml_training_data.csv"

    @property
    def feedback_lock(self) -> Path:
        """Held while the feedback and training CSVs are appended to or read whole."""
        return self.data_dir / self._partition_dir / ".feedback.lock"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def retraining_history(self) -> Path:
        return self.home / "logs" / "ml_retraining_history.txt"

    def masked_redis_url(self) -> str:
        """The Redis URL with any password replaced, for logs and messages."""
        return mask_url(self.redis_url)
