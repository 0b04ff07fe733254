"""Group `feedback`: trade outcomes joined to their predictions, scored, and fed back.

It reads two streams, predictions first (`Handler.streams` order), so an outcome finds
its prediction when both wait in the streams:

- predictions are kept in Redis for `ML_FEEDBACK_JOIN_DAYS` after their day, by id and
  as the latest of their ticker and day (in `MLMON_TIMEZONE`), packed in a hash per day
  (`worker.groups.feedback_index`);
- each outcome is joined by `prediction_id`, else by ticker and prediction date, else
  scored on the verdicts it carries (or dead-lettered when it has none); it becomes a row
  of `data/ml_feedback.csv`, counters for the accuracy figures, and, when the prediction
  carried features, a labelled row of `data/ml_training_data.csv`.

Files and counters are exactly once: `worker.consumer.journal` and `worker.consumer.effects`.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import redis

from producer_sdk.events import Prediction, TradeOutcome
from producer_sdk.streams import StreamName
from producer_sdk.vocabulary import Verdict
from worker.consumer.codec import Delivery
from worker.consumer.csv_cells import safe_cell
from worker.consumer.effects import BatchEffects, EffectsApplier
from worker.consumer.failures import EnvironmentFault
from worker.consumer.handler import Rejected
from worker.consumer.journal import Journal
from worker.consumer.topology import GROUP_STREAMS, GroupName
from worker.counters.feedback import ScoredOutcome
from worker.groups.feedback_index import FeedbackIndex
from worker.keys import Keys
from worker.retraining.labels import load_label_rule
from worker.retraining.training_header import LABEL_COLUMN, training_header_problem
from worker.settings import Settings

GROUP = GroupName.FEEDBACK
DAY_S = 86_400
FEEDBACK_DAY_TTL_S = 31 * DAY_S + 3_600  # the 30 d window and a margin
FEEDBACK_COLUMNS = (
    "outcome_id",
    "prediction_id",
    "joined_by",
    "ticker",
    "prediction_date",
    "outcome_ts",
    "ml_verdict",
    "rule_verdict",
    "final_verdict",
    "ml_confidence",
    "verdict_source",
    "model_version",
    "actual_outcome",
    "pnl_pct",
    "holding_days",
    "label_delay_days",
    "label",
)
FEEDBACK_HEADER = ",".join(FEEDBACK_COLUMNS) + "\n"
NO_VERDICTS = "no prediction matches (prediction_id, or ticker and date) and no verdicts given"


@dataclass(frozen=True)
class Joined:
    """An outcome with the prediction it was joined to, if any."""

    outcome: TradeOutcome
    prediction: Prediction | None
    joined_by: str | None


class FeedbackHandler:
    """Indexes predictions; joins, scores and records outcomes."""

    group: ClassVar[str] = GROUP
    streams: ClassVar[tuple[StreamName, ...]] = GROUP_STREAMS[GROUP]

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys.of(settings)
        self.label_rule = load_label_rule(
            settings.label_rule, strong_buy_pnl_pct=settings.strong_buy_pnl_pct
        )
        self.journal = Journal(
            client,
            self.keys,
            home=settings.home,
            group=self.group,
            lock_path=settings.feedback_lock,
        )
        self.effects = EffectsApplier(client, settings, group=self.group)
        self.index = FeedbackIndex(client, settings, group=self.group)

    def handle(self, stream: StreamName, deliveries: Sequence[Delivery]) -> list[Rejected]:
        if stream is StreamName.PREDICTIONS:
            self._index_predictions(deliveries)
            return []
        return self._record_outcomes(deliveries)

    def _index_predictions(self, deliveries: Sequence[Delivery]) -> None:
        events = [d.event for d in deliveries]
        assert all(isinstance(e, Prediction) for e in events)  # the stream carries only these
        self.index.index([d.entry_id for d in deliveries], events)  # type: ignore[arg-type]

    def _record_outcomes(self, deliveries: Sequence[Delivery]) -> list[Rejected]:
        unique: dict[str, Delivery] = {}
        for delivery in deliveries:
            unique.setdefault(delivery.event.event_id, delivery)
        joined = self._join([d.event for d in unique.values()])  # type: ignore[misc]
        rejected = [
            (unique[j.outcome.event_id], NO_VERDICTS)
            for j in joined
            if j.prediction is None and not _has_verdicts(j.outcome)
        ]
        rejected_ids = {delivery.entry_id for delivery, _ in rejected}
        usable = [j for j in joined if j.prediction is not None or _has_verdicts(j.outcome)]
        paths = [self.settings.feedback_csv, self.settings.training_csv]
        effects = BatchEffects([d.entry_id for d in deliveries if d.entry_id not in rejected_ids])
        all_time = effects.hash_ref(self.keys.feedback_all)
        mark_of = self.effects.marks.of
        marks = {j.outcome.event_id: mark_of(j.outcome.event_id, j.outcome.ts) for j in usable}
        with self.journal.batch(paths, marks) as batch:
            todo = [j for j in usable if j.outcome.event_id not in batch.logged]
            feedback_rows, training_rows = [], []
            header = self._training_header(todo)
            for item in todo:
                label = self._label(item)
                scored = self._score(item, labelled=label is not None and header is not None)
                feedback_rows.append(_feedback_row(item, scored, label))
                if scored.labelled and item.prediction is not None and header is not None:
                    training_rows.append(_training_row(header, item.prediction, label))
                day = item.outcome.ts.astimezone(UTC).date().isoformat()
                ones, amounts = scored.counters()
                effects.add_event(
                    marks[item.outcome.event_id],
                    hashes=[
                        all_time,
                        effects.hash_ref(self.keys.feedback_day(day), self._day_ttl(day)),
                    ],
                    ones=ones,
                    amounts=amounts,
                )
            batch.append(self.settings.feedback_csv, "".join(feedback_rows), header=FEEDBACK_HEADER)
            training_header = _csv_line(list(header)) if header else ""
            batch.append(self.settings.training_csv, "".join(training_rows), header=training_header)
            effects.file_lengths = batch.new_lengths
            self.effects.apply(self.keys.stream(StreamName.OUTCOMES), effects)
        return rejected

    def _join(self, outcomes: list[TradeOutcome]) -> list[Joined]:
        """By prediction_id when given, else by ticker and prediction date. An id that is
        not found (expired, or its prediction_date more than a day off) joins nothing: the
        ticker's latest prediction of that date may be another one, and its features
        would train the model under this outcome's label."""
        by_id = self.index.by_ids([(o.prediction_id, o.prediction_date) for o in outcomes])
        missing = [i for i, o in enumerate(outcomes) if by_id[i] is None and not o.prediction_id]
        latest = self.index.latest(
            [(outcomes[i].ticker, outcomes[i].prediction_date) for i in missing]
        )
        by_day = dict(zip(missing, latest, strict=True))
        joined = []
        for i, outcome in enumerate(outcomes):
            if by_id[i] is not None:
                joined.append(Joined(outcome, by_id[i], "id"))
            elif by_day.get(i) is not None:
                joined.append(Joined(outcome, by_day[i], "ticker_date"))
            else:
                joined.append(Joined(outcome, None, None))
        return joined

    def _label(self, item: Joined) -> Verdict | None:
        if item.prediction is None or not item.prediction.features:
            return None
        return Verdict(self.label_rule(item.outcome, item.prediction))

    def _score(self, item: Joined, *, labelled: bool) -> ScoredOutcome:
        source = item.prediction or item.outcome
        prediction_day = (
            item.prediction.ts.astimezone(self.settings.zone).date()
            if item.prediction
            else item.outcome.prediction_date
        )
        delay_days = (item.outcome.ts.astimezone(self.settings.zone).date() - prediction_day).days
        return ScoredOutcome(
            verdicts={
                "ml": source.ml_verdict,
                "rule": source.rule_verdict,
                "final": source.final_verdict,
            },
            outcome=item.outcome.actual_outcome,
            pnl_pct=item.outcome.pnl_pct,
            joined_by=item.joined_by,
            label_delay_days=max(0, delay_days),
            labelled=labelled,
            ml_confidence=item.prediction.ml_confidence if item.prediction else None,
        )

    def _training_header(self, todo: list[Joined]) -> list[str] | None:
        """The training CSV's columns: its header line, or, for a new file, the first
        labelled prediction's feature names (sorted) and `label`."""
        path = self.settings.training_csv
        if path.exists() and path.stat().st_size > 0:
            with path.open(newline="", encoding="utf-8", errors="replace") as file:
                header = next(csv.reader(file), [])
            problem = training_header_problem(header)
            if problem:
                raise BrokenTrainingFile(
                    f"{path} has a broken header ({problem}); outcomes wait, pending, until "
                    f"it is fixed: move the file aside (mv {path} {path}.broken) and mlmon "
                    "starts a new one"
                )
            return header
        for item in todo:
            if item.prediction is not None and item.prediction.features:
                return [*sorted(item.prediction.features), LABEL_COLUMN]
        return None

    def _day_ttl(self, day: str) -> int:
        day_start_s = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        return max(1, int(day_start_s + DAY_S + FEEDBACK_DAY_TTL_S - time.time()))


class BrokenTrainingFile(EnvironmentFault):
    """The training CSV's header cannot be used; an operator must move the file aside."""


def _has_verdicts(outcome: TradeOutcome) -> bool:
    return any(
        v is not None for v in (outcome.ml_verdict, outcome.rule_verdict, outcome.final_verdict)
    )


def _csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        ["" if v is None else safe_cell(v) for v in values]
    )
    return buffer.getvalue()


def _feedback_row(item: Joined, scored: ScoredOutcome, label: Verdict | None) -> str:
    p, o = item.prediction, item.outcome
    verdicts = scored.verdicts
    return _csv_line(
        [
            o.event_id,
            p.event_id if p else o.prediction_id,
            item.joined_by or "none",
            o.ticker,
            o.prediction_date.isoformat(),
            o.ts.isoformat(),
            *(verdict.value if (verdict := verdicts[s]) else None for s in ("ml", "rule", "final")),
            p.ml_confidence if p else None,
            p.verdict_source.value if p else None,
            p.model_version if p else None,
            o.actual_outcome.value,
            o.pnl_pct,
            o.holding_days,
            scored.label_delay_days,
            label.value if label else None,
        ]
    )


def _training_row(header: list[str], prediction: Prediction, label: Verdict | None) -> str:
    features = prediction.features or {}
    label_cell = label.value if label else None
    return _csv_line([label_cell if c == LABEL_COLUMN else features.get(c) for c in header])
