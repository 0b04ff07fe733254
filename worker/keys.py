"""Every Redis key mlmon uses, built here and nowhere else.

Layout (prefix `mlmon` by default; the README lists these for redis-cli users):

    mlmon:stream:<name>                 streams of the wire contract (producer_sdk.streams)
    mlmon:dedup:<group>:<ts_s>          idempotency marks of one group's events of one second
                                        of event time (set of 63-bit event id hashes; TTL)
    mlmon:dedup:<group>:<ts_s>:<n>      more of them, when that second has many (TTL)
    mlmon:dedup:dead:<stream>:<id>      mark of an entry already dead-lettered (TTL)
    mlmon:alerts:state                  alert name -> its state: since, firing, last sent (hash)
    mlmon:alerts:notification:<id>      a notification waiting for its deliveries (TTL)
    mlmon:alerts:failed                 deliveries that failed after every retry (stream)
    mlmon:alerts:lock                   held by the one consumer evaluating the rules (TTL)
    mlmon:dead:replayed                 dead letter id -> the entry its replay made (hash)
    mlmon:metrics:all                   all-time counters (hash)
    mlmon:metrics:minute:<UTC minute>   counters of one minute, e.g. ...:2026-11-27T08:34 (TTL)
    mlmon:metrics:hour:<UTC hour>       counters of one hour, e.g. ...:2026-11-27T08 (TTL)
    mlmon:metrics:version:<version>     counters of one model version (for its baseline; TTL)
    mlmon:drift:baseline                the baseline snapshot and its model version (hash)
    mlmon:drift:page_hinkley            Page-Hinkley detector state on ML confidence (hash)
    mlmon:features:monitored            feature names whose distributions are counted (set)
    mlmon:metrics:recent                last predictions, newest first (list, capped)
    mlmon:feedback:predictions:<day>    predictions of one day kept for joining outcomes:
                                        event id -> packed prediction (hash; TTL)
    mlmon:feedback:latest:<day>         ticker -> "<ts_ms> <id>" of its latest prediction that
                                        day (hash; TTL)
    mlmon:feedback:all                  all-time outcome scoring counters (hash)
    mlmon:feedback:day:<UTC day>        outcome scoring counters of one day (TTL)
    mlmon:retrain:state                 gate state: active job, last run, samples at last run
    mlmon:retrain:runs                  accepted runs of the last 24 h (sorted set by time)
    mlmon:retrain:decisions             every gate decision, newest last (stream, capped)
    mlmon:models:<name>:registry        version -> registry entry (hash of JSON)
    mlmon:models:<name>:live            the live version and its history (hash)
    mlmon:heartbeat:<group>:<consumer>  a live consumer (TTL: three heartbeats)
    mlmon:failures:<group>              "<stream>:<entry id>" -> times it failed on its own
    mlmon:faults                        "<group>:<consumer>" -> its environment fault (JSON)
    mlmon:files:committed               appended file (relative to MLMON_HOME) -> committed
                                        length in bytes (hash)

Partitioned (`MLMON_PARTITIONS=N` > 1, for Redis Cluster): partition i holds the keys above
that the atomic steps of its consumers touch (prediction and outcome streams, dead letters,
idempotency marks, counters, recent list, Page-Hinkley state, feedback index, committed
lengths, heartbeats, failures and faults) under the prefix `{mlmon-p<i>}`, a hash tag, so
each partition is one slot; what all partitions share (retrain gate, models, alerts, drift
baseline, and the analysis, backtest, models and alerts streams) is under `{mlmon}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from producer_sdk.streams import (
    CONTROL_STREAMS,
    PARTITION_TAG,
    StreamName,
    control_prefix,
    partition_prefix,
    stream_key,
)
from worker.settings import Settings

MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
RQ_QUEUE_KINDS = ("retraining", "alerts")  # the keys of `Keys.rq_queues`
HOUR_FORMAT = "%Y-%m-%dT%H"


@dataclass(frozen=True)
class Keys:
    """Key builder for one prefix.

    :param prefix: the prefix of per-partition keys (`mlmon`, or `{mlmon-p3}`).
    :param control: the prefix of shared keys; by default the same, and for a partition's
        prefix `{mlmon-p3}` the control tag `{mlmon}`.
    """

    prefix: str
    control: str = ""

    def __post_init__(self) -> None:
        if not self.control:
            match = PARTITION_TAG.match(self.prefix)
            shared = f"{{{match['base']}}}" if match else self.prefix
            object.__setattr__(self, "control", shared)

    @classmethod
    def of(cls, settings: Settings) -> Keys:
        """The keys of `settings`: of its partition when its prefix is a partition's (a
        partitioned worker's settings), else the shared ones (with more than one partition,
        readers take the per-partition keys from `partitions_of`)."""
        if settings.partitions == 1:  # today's layout, whatever the prefix looks like
            return cls(settings.prefix, settings.prefix)
        if PARTITION_TAG.match(settings.prefix):
            return cls(settings.prefix)
        return cls(control_prefix(settings.prefix, settings.partitions))

    @classmethod
    def partitions_of(cls, settings: Settings) -> list[Keys]:
        """Every partition's keys of the deployment, in partition order (one, today's
        layout, by default), from a partition's settings too."""
        if settings.partitions == 1:
            return [cls(settings.prefix, settings.prefix)]
        match = PARTITION_TAG.match(settings.prefix)
        base = match["base"] if match else settings.prefix
        return [cls.partition(base, i) for i in range(settings.partitions)]

    @classmethod
    def partition(cls, prefix: str, index: int) -> Keys:
        """Partition `index` of the deployment with prefix `prefix`."""
        return cls(partition_prefix(prefix, index))

    @property
    def shared(self) -> Keys:
        """The keys of the control tag (itself with one partition): where the groups on the
        shared streams keep their marks, heartbeats and dead letters."""
        return Keys(self.control)

    def for_stream(self, name: StreamName) -> Keys:
        """The keys of the consumers of stream `name`: shared for a shared stream."""
        return self.shared if name in CONTROL_STREAMS else self

    def stream(self, name: StreamName) -> str:
        return stream_key(self.control if name in CONTROL_STREAMS else self.prefix, name)

    @property
    def dead_stream(self) -> str:
        return self.stream(StreamName.DEAD)

    def dedup(self, group: str, event_id: str) -> str:
        """A mark key of its own (dead letters and retraining triggers, both rare)."""
        return f"{self.prefix}:dedup:{group}:{event_id}"

    def dedup_bucket(self, group: str, ts_s: int, overflow: int | None = None) -> str:
        """A set of idempotency marks of `group` (`worker.consumer.marks`)."""
        key = f"{self.prefix}:dedup:{group}:{ts_s}"
        return key if overflow is None else f"{key}:{overflow}"

    def dead_mark(self, stream: StreamName, entry_id: str, group: str | None = None) -> str:
        """One dead letter per entry; per group too for failures only one group sees."""
        scope = f"dead-{group}" if group else "dead"
        return self.dedup(scope, f"{stream.value}:{entry_id}")

    @property
    def drift_baseline(self) -> str:
        return f"{self.control}:drift:baseline"

    @property
    def drift_page_hinkley(self) -> str:
        return f"{self.prefix}:drift:page_hinkley"

    def metrics_version(self, model_version: str) -> str:
        return f"{self.prefix}:metrics:version:{model_version}"

    @property
    def alerts_state(self) -> str:
        return f"{self.control}:alerts:state"

    def alert_notification(self, notification_id: str) -> str:
        return f"{self.control}:alerts:notification:{notification_id}"

    @property
    def alerts_failed(self) -> str:
        return f"{self.control}:alerts:failed"

    @property
    def alerts_lock(self) -> str:
        return f"{self.control}:alerts:lock"

    @property
    def dead_replayed(self) -> str:
        return f"{self.prefix}:dead:replayed"

    @property
    def features_monitored(self) -> str:
        return f"{self.prefix}:features:monitored"

    @property
    def metrics_all(self) -> str:
        return f"{self.prefix}:metrics:all"

    def metrics_minute(self, at: datetime) -> str:
        return f"{self.prefix}:metrics:minute:{at.astimezone(UTC).strftime(MINUTE_FORMAT)}"

    def metrics_hour(self, at: datetime) -> str:
        return f"{self.prefix}:metrics:hour:{at.astimezone(UTC).strftime(HOUR_FORMAT)}"

    @property
    def metrics_recent(self) -> str:
        return f"{self.prefix}:metrics:recent"

    def feedback_predictions(self, day: str) -> str:
        return f"{self.prefix}:feedback:predictions:{day}"

    def feedback_latest(self, day: str) -> str:
        return f"{self.prefix}:feedback:latest:{day}"

    @property
    def feedback_all(self) -> str:
        return f"{self.prefix}:feedback:all"

    def feedback_day(self, day: str) -> str:
        return f"{self.prefix}:feedback:day:{day}"

    @property
    def retraining_queue(self) -> str:
        """The RQ queue name (`mlmon-retraining` for the default prefix)."""
        return f"{self.control}-retraining"

    @property
    def alerts_queue(self) -> str:
        """The RQ queue of alert jobs (`mlmon-alerts` for the default prefix)."""
        return f"{self.control}-alerts"

    @property
    def rq_queues(self) -> dict[str, str]:
        """Every RQ queue by kind (`mlmon rq-worker --queue <kind>`)."""
        return {"retraining": self.retraining_queue, "alerts": self.alerts_queue}

    @property
    def retrain_state(self) -> str:
        return f"{self.control}:retrain:state"

    @property
    def retrain_runs(self) -> str:
        return f"{self.control}:retrain:runs"

    @property
    def retrain_decisions(self) -> str:
        return f"{self.control}:retrain:decisions"

    def model_registry(self, name: str) -> str:
        return f"{self.control}:models:{name}:registry"

    def model_live(self, name: str) -> str:
        return f"{self.control}:models:{name}:live"

    def heartbeat(self, group: str, consumer: str) -> str:
        return f"{self.prefix}:heartbeat:{group}:{consumer}"

    def failures(self, group: str) -> str:
        return f"{self.prefix}:failures:{group}"

    @property
    def faults(self) -> str:
        return f"{self.prefix}:faults"

    @property
    def files_committed(self) -> str:
        return f"{self.prefix}:files:committed"

    @staticmethod
    def rq_job(rq_prefix: str, job_id: str) -> str:
        """RQ's hash of one job, under RQ's key prefix (`Settings.rq_prefix`)."""
        return f"{rq_prefix}:job:{job_id}"

    def pattern(self) -> str:
        """SCAN pattern matching every key of this prefix."""
        return f"{self.prefix}:*"
