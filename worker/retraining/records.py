"""The model registry's records in Redis: versions, their status, the live version.

Reading them needs no joblib or numpy, so `mlmon status` and the exporter use this, and
`worker.retraining.registry` adds the model files on top.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import redis

from worker.keys import Keys
from worker.settings import Settings


class ModelStatus(StrEnum):
    """A registry entry's state."""

    LIVE = "live"
    PREVIOUS = "previous"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"

    @classmethod
    def _missing_(cls, value: object) -> ModelStatus | None:
        """Registries written before the enum spelled it "rolled back"."""
        return cls.ROLLED_BACK if value == "rolled back" else None


class ModelRecords:
    """The registry records of one model name (`ML_MODEL_NAME`)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.keys = Keys.of(settings)
        self.name = settings.model_name
        self.registry_key = self.keys.model_registry(self.name)
        self.live_key = self.keys.model_live(self.name)

    def entries(self) -> list[dict[str, Any]]:
        raw = self.client.hgetall(self.registry_key)
        entries = [json.loads(value) for value in raw.values()]
        return sorted(entries, key=lambda entry: entry["version"])

    def entry(self, version: int) -> dict[str, Any] | None:
        raw = self.client.hget(self.registry_key, str(version))
        return None if raw is None else dict(json.loads(raw))

    def live_version(self) -> int | None:
        raw = self.client.hget(self.live_key, "version")
        return None if raw is None else int(raw)

    def live_history(self) -> list[dict[str, Any]]:
        raw = self.client.hget(self.live_key, "history")
        return [] if raw is None else list(json.loads(raw))

    def next_version(self) -> int:
        """Versions increase by one, also across processes."""
        return int(self.client.hincrby(self.live_key, "last_version", 1))
