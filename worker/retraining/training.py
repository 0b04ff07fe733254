"""Training and evaluation with scikit-learn: pure functions of the data, no Redis.

The training CSV holds numeric feature columns and a `label` column with a verdict. The
default model is gradient boosting (it takes missing features as they are) with
calibrated probabilities; `ML_TRAINER=package.module:function` replaces it with any
function `(X, y, feature_names) -> fitted estimator with predict_proba`.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score
from sklearn.model_selection import train_test_split

from producer_sdk.vocabulary import Verdict
from worker.retraining.labels import import_callable
from worker.retraining.training_header import LABEL_COLUMN, training_header_problem

SEED = 42
TEST_SHARE = 0.2
CLASSES = [v.value for v in Verdict]


class TrainingDataError(Exception):
    """The training data cannot train a model; the message says why and what to do."""


class Classifier(Protocol):
    classes_: Any

    def predict_proba(self, x: Any) -> Any: ...


Trainer = Callable[[np.ndarray, np.ndarray, list[str]], Classifier]


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]


def parse_training_csv(text: str, *, source: str) -> Dataset:
    """Numeric features (empty cells are missing values) and verdict labels."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0]:
        raise TrainingDataError(f"{source} is empty; labelled rows arrive with trade outcomes")
    header, body = rows[0], [r for r in rows[1:] if r]
    problem = training_header_problem(header)
    if problem:
        raise TrainingDataError(
            f"{source} has a broken header ({problem}): move it aside "
            f"(mv {source} {source}.broken); mlmon starts a new one with the next labelled outcome"
        )
    label_at = header.index(LABEL_COLUMN)
    names = [name for i, name in enumerate(header) if i != label_at]
    if not body:
        raise TrainingDataError(f"{source} has a header but no rows")
    features = np.full((len(body), len(names)), np.nan)
    labels = []
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise TrainingDataError(
                f"{source} line {line}: {len(row)} cells, expected {len(header)}"
            )
        label = row[label_at]
        if label not in CLASSES:
            raise TrainingDataError(f"{source} line {line}: label {label!r} is not a verdict")
        labels.append(label)
        cells = [cell for i, cell in enumerate(row) if i != label_at]
        features[line - 2] = _numbers(cells, names, where=f"{source} line {line}")
    dataset = Dataset(features, np.array(labels), names)
    check_classes(dataset, source=source)
    return dataset


def _numbers(cells: list[str], names: list[str], *, where: str) -> list[float]:
    """Floats of one row; an empty cell is a missing value (NaN)."""
    values = []
    for name, cell in zip(names, cells, strict=True):
        try:
            values.append(float(cell) if cell.strip() else math.nan)
        except ValueError as e:
            raise TrainingDataError(f"{where}: {name}={cell!r} is not a number") from e
    return values


def check_classes(dataset: Dataset, *, source: str) -> None:
    counts = Counter(dataset.labels.tolist())
    if len(counts) < 2:
        raise TrainingDataError(
            f"{source} has one class only ({next(iter(counts))}); need two or more"
        )
    rare = sorted(label for label, n in counts.items() if n < 2)
    if rare:
        raise TrainingDataError(
            f"{source}: class(es) {rare} have fewer than 2 rows; a split needs 2"
        )


def default_trainer(features: np.ndarray, labels: np.ndarray, _names: list[str]) -> Classifier:
    """Gradient boosting with sigmoid-calibrated probabilities (3-fold when classes allow)."""
    smallest = min(Counter(labels.tolist()).values())
    booster = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=SEED)
    if smallest < 3:
        booster.fit(features, labels)
        fitted: Classifier = booster
        return fitted
    model: Classifier = CalibratedClassifierCV(booster, method="sigmoid", cv=3)
    model.fit(features, labels)  # type: ignore[attr-defined]
    return model


def load_trainer(spec: str) -> Trainer:
    if spec == "default":
        return default_trainer
    return import_callable("ML_TRAINER", spec)  # type: ignore[return-value]


def split(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified split with a fixed seed: the same rows are held out every run."""
    test_size = max(TEST_SHARE, len(set(dataset.labels.tolist())) / len(dataset.labels))
    parts = train_test_split(
        dataset.features,
        dataset.labels,
        test_size=test_size,
        stratify=dataset.labels,
        random_state=SEED,
    )
    x_train, x_test, y_train, y_test = parts
    return x_train, x_test, y_train, y_test


def evaluate(model: Classifier, features: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro F1, log loss and per-class recall on held-out rows."""
    probabilities = np.asarray(model.predict_proba(features))
    model_classes = [str(c) for c in model.classes_]
    predicted = np.array(model_classes)[probabilities.argmax(axis=1)]
    present = sorted(set(labels.tolist()) | set(predicted.tolist()))
    ordered = sorted(CLASSES)  # log_loss takes probability columns in sorted label order
    full = np.zeros((len(labels), len(ordered)))
    for column, name in enumerate(model_classes):
        full[:, ordered.index(name)] = probabilities[:, column]
    full = np.clip(full, 1e-15, 1.0)
    full /= full.sum(axis=1, keepdims=True)
    recalls = recall_score(labels, predicted, labels=present, average=None, zero_division=0)
    loss = float(log_loss(labels, full, labels=ordered))
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 6),
        "macro_f1": round(float(f1_score(labels, predicted, average="macro", zero_division=0)), 6),
        "log_loss": round(loss, 6) if math.isfinite(loss) else None,
        "recall": {name: round(float(r), 6) for name, r in zip(present, recalls, strict=True)},
        "test_rows": len(labels),
    }


def columns_for(model_features: list[str], dataset: Dataset) -> np.ndarray | None:
    """The dataset's columns in a model's feature order; None if it lacks one of them."""
    if not set(model_features) <= set(dataset.feature_names):
        return None
    order = [dataset.feature_names.index(name) for name in model_features]
    return dataset.features[:, order]
