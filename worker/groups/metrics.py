"""Group `metrics`: rolling prediction metrics held in Redis.

Counters live in hashes: all-time, per UTC minute (read as the last hour) and per UTC hour
(read as the last 24 h and 7 d). Bucket hashes expire when no window needs them, so memory
does not grow with the number of events. Feature counters (`worker.counters.features`)
go to the bucket and model version hashes only. A batch is one Lua call: the events'
idempotency marks and their counters, summed over the batch, in one atomic step with the
acknowledgement (`worker.consumer.effects`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import msgspec
import redis

from producer_sdk.events import Prediction
from producer_sdk.streams import StreamName
from worker.consumer.codec import Delivery
from worker.consumer.effects import BatchEffects, EffectsApplier, SentBatch
from worker.consumer.handler import Rejected
from worker.consumer.topology import GROUP_STREAMS, GroupName
from worker.counters.features import FeatureFields
from worker.counters.metrics import PredictionKinds, decode_counters
from worker.counters.windows import HOUR_BUCKET_TTL, MINUTE_BUCKET_TTL
from worker.drift.baseline import baseline_version, set_baseline
from worker.keys import Keys
from worker.log import get_logger
from worker.scripts import load_script
from worker.settings import Settings

GROUP = GroupName.METRICS
VERSION_COUNTERS_TTL_S = 90 * 86_400
log = get_logger(__name__)


class MetricsHandler:
    """Counts each prediction once into the all-time, minute and hour hashes."""

    group: ClassVar[str] = GROUP
    streams: ClassVar[tuple[StreamName, ...]] = GROUP_STREAMS[GROUP]

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys.of(settings)
        self.effects = EffectsApplier(client, settings, group=self.group)
        self._granularities = (
            (60, int(MINUTE_BUCKET_TTL.total_seconds()), self.keys.metrics_minute),
            (3600, int(HOUR_BUCKET_TTL.total_seconds()), self.keys.metrics_hour),
        )
        self._baseline_version: str | None = None  # as last read; saves a read per batch
        self._key_memo: dict[tuple[int, int], str] = {}  # formatting keys per event is slow
        self._features = FeatureFields()
        self._kinds = PredictionKinds()
        self._admit = load_script(client, "admit_features")

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> list[Rejected]:
        return self.prepare(stream, deliveries).finish()

    def prepare(self, stream: StreamName, deliveries: Sequence[Delivery]) -> _MetricsCommit:
        """The batch's counters, ready to commit (`Deferring`: the runtime commits a batch
        while it prepares the next)."""
        now_s = int(time.time())
        effects = BatchEffects(
            [d.entry_id for d in deliveries],
            detector_delta=self.settings.ph_delta,
            recent_line=recent_line,
        )
        all_time = effects.hash_ref(self.keys.metrics_all)
        versions: set[str] = set()
        # the hashes an event counts in depend only on its minute and model version
        hashes_of: dict[tuple[int, str | None], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        mark_of = self.effects.marks.of
        features = self._features
        kinds = self._kinds
        for delivery in deliveries:
            event = delivery.event
            assert isinstance(event, Prediction)  # the predictions stream carries only these
            ts_s = int(event.ts.timestamp())
            version = event.model_version
            refs = hashes_of.get((ts_s // 60, version))
            if refs is None:
                hashes = self._hashes(effects, all_time, ts_s, now_s, version)
                # feature counters are read from windows and baselines, never all time
                refs = hashes_of[(ts_s // 60, version)] = (hashes, hashes[1:])
                if version:
                    versions.add(version)
            hashes, feature_hashes = refs
            confidence = event.ml_confidence
            also = None
            if event.features:
                feature_ones: list[str] = []
                if not features.add(event.features, feature_ones):
                    self._admit_features(event.features)  # a name not seen yet: rare
                    features.add(event.features, feature_ones)
                also = (feature_hashes, feature_ones)
            effects.add_event(
                mark_of(event.event_id, event.ts),
                hashes=hashes,
                ones=kinds.fields(event),
                amounts=None if confidence is None else kinds.amounts(confidence),
                recent=event,
                detector_value=confidence,
                also=also,
            )
        return _MetricsCommit(self, self.keys.stream(stream), effects, versions)

    def _hashes(
        self, effects: BatchEffects, all_time: int, ts_s: int, now_s: int, version: str | None
    ) -> tuple[int, ...]:
        """The counter hashes of an event: all-time, its minute and hour buckets still
        inside a window, and its model version's (the next model's baseline)."""
        refs = [all_time]
        refs += [effects.hash_ref(key, ttl_s) for key, ttl_s in self._bucket_keys(ts_s, now_s)]
        if version:
            refs.append(
                effects.hash_ref(self.keys.metrics_version(version), VERSION_COUNTERS_TTL_S)
            )
        return tuple(refs)

    def _admit_features(self, names: Iterable[str]) -> None:
        """Ask Redis which of these names are monitored (new ones join while there is
        room under `ML_FEATURES_MONITORED`), in sorted order so the choice is the same
        whichever worker asks."""
        offered = sorted(names)
        replies = self._admit(
            keys=[self.keys.shared.features_monitored],
            args=[self.settings.features_monitored, *offered],
        )
        self._features.record(
            {name: bool(reply) for name, reply in zip(offered, replies, strict=True)}
        )

    def maybe_set_baseline(self, versions: set[str]) -> None:
        """A model version the baseline does not belong to becomes the baseline once it
        has made `ML_BASELINE_SAMPLES` predictions (a newly promoted model)."""
        if versions == {self._baseline_version}:
            return  # the usual case: the live model's predictions, its baseline already set
        current = self._baseline_version = baseline_version(self.client, self.settings)
        for version in sorted(versions - {current} if current else versions):
            counters = decode_counters(self.client.hgetall(self.keys.metrics_version(version)))  # type: ignore[arg-type]
            if counters.get("predictions", 0) >= self.settings.baseline_samples:
                set_baseline(
                    self.client,
                    self.settings,
                    counters,
                    model_version=version,
                    source=f"first {counters['predictions']} predictions of model {version}",
                )
                log.info("baseline set", model_version=version, predictions=counters["predictions"])
                self._baseline_version = version
                return

    def _bucket_keys(self, ts_s: int, now_s: int) -> list[tuple[str, int]]:
        """The minute and hour buckets of `ts_s` still inside a window, with their TTLs."""
        buckets = []
        for length_s, keep_s, key_of in self._granularities:
            start_s = ts_s - ts_s % length_s
            # never longer than a bucket's whole life, whatever the clock of its event
            ttl_s = min(start_s + length_s + keep_s - now_s, length_s + keep_s)
            if ttl_s <= 0:
                continue
            key = self._key_memo.get((length_s, start_s))
            if key is None:
                if len(self._key_memo) > 10_000:
                    self._key_memo.clear()
                key = key_of(datetime.fromtimestamp(start_s, UTC))
                self._key_memo[(length_s, start_s)] = key
            buckets.append((key, ttl_s))
        return buckets


class _MetricsCommit:
    """A prepared batch of the metrics group (`Commit`)."""

    def __init__(
        self, handler: MetricsHandler, stream_key: str, effects: BatchEffects, versions: set[str]
    ) -> None:
        self.handler = handler
        self.stream_key = stream_key
        self.effects = effects
        self.versions = versions
        self._sent: SentBatch | None = None

    def start(self) -> None:
        self._sent = self.handler.effects.send(self.stream_key, self.effects)

    def finish(self) -> list[Rejected]:
        if self._sent is None:
            self.start()
        assert self._sent is not None
        self._sent.wait()
        if self.versions:
            self.handler.maybe_set_baseline(self.versions)
        return []


def recent_line(event: Prediction) -> str:
    """What `mlmon status` shows of one recent prediction (JSON by msgspec: readers parse
    it, and it is five times cheaper than json.dumps, for the newest events of each batch)."""
    return _encode_line(
        {
            "event_id": event.event_id,
            "ts": event.ts.isoformat(),
            "ticker": event.ticker,
            "ml_verdict": event.ml_verdict,  # enums are written as their values
            "ml_confidence": event.ml_confidence,
            "rule_verdict": event.rule_verdict,
            "final_verdict": event.final_verdict,
            "verdict_source": event.verdict_source,
            "agreement": event.agrees,
            "model_version": event.model_version,
        }
    ).decode()


_encode_line = msgspec.json.Encoder().encode
