"""Trainers for `ML_TRAINER` in the retraining tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier


def constant_trainer(features: np.ndarray, labels: np.ndarray, _names: list[str]) -> Any:
    """A model that always predicts the most frequent class: worse than a real one."""
    return DummyClassifier(strategy="most_frequent").fit(features, labels)


def failing_trainer(features: np.ndarray, labels: np.ndarray, _names: list[str]) -> Any:
    raise RuntimeError("trainer crashed half-way")
