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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from producer_sdk.streams import StreamName, stream_key

MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
RQ_QUEUE_KINDS = ("retraining", "alerts")  # the keys of `Keys.rq_queues`
HOUR_FORMAT = "%Y-%m-%dT%H"


@dataclass(frozen=True)
class Keys:
    """Key builder for one prefix."""

    prefix: str

    def stream(self, name: StreamName) -> str:
        return stream_key(self.prefix, name)

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
        return f"{self.prefix}:drift:baseline"

    @property
    def drift_page_hinkley(self) -> str:
        return f"{self.prefix}:drift:page_hinkley"

    def metrics_version(self, model_version: str) -> str:
        return f"{self.prefix}:metrics:version:{model_version}"

    @property
    def alerts_state(self) -> str:
        return f"{self.prefix}:alerts:state"

    def alert_notification(self, notification_id: str) -> str:
        return f"{self.prefix}:alerts:notification:{notification_id}"

    @property
    def alerts_failed(self) -> str:
        return f"{self.prefix}:alerts:failed"

    @property
    def alerts_lock(self) -> str:
        return f"{self.prefix}:alerts:lock"

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
        return f"{self.prefix}-retraining"

    @property
    def alerts_queue(self) -> str:
        """The RQ queue of alert jobs (`mlmon-alerts` for the default prefix)."""
        return f"{self.prefix}-alerts"

    @property
    def rq_queues(self) -> dict[str, str]:
        """Every RQ queue by kind (`mlmon rq-worker --queue <kind>`)."""
        return {"retraining": self.retraining_queue, "alerts": self.alerts_queue}

    @property
    def retrain_state(self) -> str:
        return f"{self.prefix}:retrain:state"

    @property
    def retrain_runs(self) -> str:
        return f"{self.prefix}:retrain:runs"

    @property
    def retrain_decisions(self) -> str:
        return f"{self.prefix}:retrain:decisions"

    def model_registry(self, name: str) -> str:
        return f"{self.prefix}:models:{name}:registry"

    def model_live(self, name: str) -> str:
        return f"{self.prefix}:models:{name}:live"

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
