"""The model registry: versions, files, backups, integrity checks, rollback.

Files under `models/`: `<name>.pkl` (joblib) and `<name>.json` (its metadata) for the live
model, `backups/<name>_<UTC timestamp>.pkl` for models replaced by a promotion, and
`registry.json`, a mirror of the registry kept in Redis. Every file is written to a
temporary name, fsynced and renamed, so a reader never sees half a file. A model is only
ever loaded from the models folder, after its sha256 matched the registry's.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from producer_sdk.streams import StreamName
from worker.retraining.files import atomic_path, sha256_of, utc_now_iso, write_json_atomically
from worker.retraining.records import ModelRecords, ModelStatus
from worker.settings import Settings

RECOVERY = (
    "restore it with `mlmon models rollback`, or train a replacement from scratch with "
    '`mlmon retrain --force --reason "..."` (a retrain does not need the live model)'
)


class ModelIntegrityError(Exception):
    """A model file does not match the registry (or is outside the models folder)."""


class RegistryError(Exception):
    """A registry operation cannot be done; the message says why."""


class ModelRegistry(ModelRecords):
    """The registry of one model name, in Redis, mirrored to `models/registry.json`."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        super().__init__(client, settings)
        self.settings = settings
        self.directory = settings.models_dir

    @property
    def model_path(self) -> Path:
        return self.directory / f"{self.name}.pkl"

    @property
    def metadata_path(self) -> Path:
        return self.directory / f"{self.name}.json"

    @property
    def backup_dir(self) -> Path:
        return self.directory / "backups"

    def save_entry(self, entry: dict[str, Any]) -> None:
        self.client.hset(
            self.registry_key, str(entry["version"]), json.dumps(entry, sort_keys=True)
        )
        self.mirror()

    def mirror(self) -> None:
        write_json_atomically(
            self.directory / "registry.json",
            {
                "name": self.name,
                "live_version": self.live_version(),
                "live_history": self.live_history(),
                "versions": self.entries(),
            },
        )

    def load_live(self) -> tuple[Any, dict[str, Any]] | None:
        """The live model and its entry, verified; None when there is no live model."""
        version = self.live_version()
        if version is None:
            return None
        entry = self.entry(version)
        if entry is None:
            raise RegistryError(f"live version {version} has no registry entry")
        return self.load_verified(self.model_path, entry["sha256"]), entry

    def load_verified(self, path: Path, expected_sha256: str) -> Any:
        """joblib-load `path` only if it is inside the models folder and its sha256 matches."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.directory.resolve()):
            raise ModelIntegrityError(f"refusing to load {path}: not inside {self.directory}")
        if not resolved.exists():
            raise ModelIntegrityError(f"model file {path} is missing; {RECOVERY}")
        actual = sha256_of(resolved)
        if actual != expected_sha256:
            raise ModelIntegrityError(
                f"refusing to load {path}: sha256 {actual[:12]}... does not match the registry's "
                f"{expected_sha256[:12]}...; {RECOVERY}"
            )
        # joblib (numpy with it, 110 ms) only where a model is loaded or saved
        import joblib  # noqa: PLC0415

        return joblib.load(resolved)

    def promote(self, model: Any, entry: dict[str, Any]) -> dict[str, Any]:
        """Back up the live model, write the new one and its metadata, make it live."""
        previous = self.live_version()
        if previous is not None and self.settings.auto_backup and self.model_path.exists():
            self._back_up(previous)
        import joblib  # noqa: PLC0415

        with atomic_path(self.model_path) as temporary:
            joblib.dump(model, temporary)
            entry["sha256"] = sha256_of(temporary)
        entry |= {
            "status": ModelStatus.LIVE,
            "promoted_at": utc_now_iso(),
            "file": self.model_path.name,
        }
        write_json_atomically(self.metadata_path, entry)
        self._set_live(entry, previous_status=ModelStatus.PREVIOUS, why="promoted")
        return entry

    def reject(self, entry: dict[str, Any]) -> None:
        self.save_entry(entry | {"status": ModelStatus.REJECTED})

    def rollback(self, version: int | None = None) -> dict[str, Any]:
        """Restore a version from its backup (default: the one live before the current)."""
        current = self.live_version()
        target = self._rollback_target(current) if version is None else self.entry(version)
        if target is None:
            raise RegistryError(f"no version {version} in the registry")
        if target["version"] == current:
            raise RegistryError(f"version {current} is already live")
        backup = target.get("backup")
        if not backup:
            raise RegistryError(
                f"version {target['version']} has no backup to restore (ML_AUTO_BACKUP off, "
                "or it was pruned by ML_BACKUP_KEEP)"
            )
        backup_path = self.directory / backup
        self.load_verified(backup_path, target["sha256"])  # refuse a tampered backup
        if current is not None and self.settings.auto_backup and self.model_path.exists():
            self._back_up(current)
        with atomic_path(self.model_path) as temporary:
            shutil.copyfile(backup_path, temporary)
        if sha256_of(self.model_path) != target["sha256"]:
            raise ModelIntegrityError("the restored model does not match its registry entry")
        target |= {"status": ModelStatus.LIVE, "restored_at": utc_now_iso()}
        write_json_atomically(self.metadata_path, target)
        self._set_live(target, previous_status=ModelStatus.ROLLED_BACK, why="rollback")
        return target

    def publish_event(self, kind: str, fields: dict[str, Any]) -> None:
        """An entry on `mlmon:stream:models` (trained, promoted, rejected, rolled back)."""
        event = {"type": kind, "model": self.name, "ts": utc_now_iso(), **fields}
        self.client.xadd(
            self.keys.stream(StreamName.MODELS),
            {"event": json.dumps(event, sort_keys=True)},
            maxlen=10_000,
            approximate=True,
        )

    def _rollback_target(self, current: int | None) -> dict[str, Any] | None:
        for record in reversed(self.live_history()):
            if record["version"] != current:
                return self.entry(record["version"])
        raise RegistryError(
            "no earlier live version to roll back to; to replace the live model, train a new "
            'one: mlmon retrain --force --reason "replace the live model"'
        )

    def _set_live(self, entry: dict[str, Any], *, previous_status: str, why: str) -> None:
        previous = self.live_version()
        if previous is not None and previous != entry["version"]:
            old = self.entry(previous)
            if old is not None:
                self.client.hset(
                    self.registry_key, str(previous), json.dumps(old | {"status": previous_status})
                )
        history = [
            *self.live_history(),
            {"version": entry["version"], "since": utc_now_iso(), "why": why},
        ]
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.registry_key, str(entry["version"]), json.dumps(entry, sort_keys=True))
        pipe.hset(
            self.live_key, mapping={"version": entry["version"], "history": json.dumps(history)}
        )
        pipe.execute()
        self.mirror()

    def _back_up(self, version: int) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.backup_dir / f"{self.name}_{stamp}.pkl"
        with atomic_path(target) as temporary:
            shutil.copyfile(self.model_path, temporary)
        entry = self.entry(version)
        if entry is not None:
            self.save_entry(entry | {"backup": target.relative_to(self.directory).as_posix()})
        self._prune_backups()

    def _prune_backups(self) -> None:
        backups = sorted(self.backup_dir.glob(f"{self.name}_*.pkl"))
        for old in backups[: -self.settings.backup_keep]:
            old.unlink()
            relative = old.relative_to(self.directory).as_posix()
            for entry in self.entries():
                if entry.get("backup") == relative:
                    self.save_entry(entry | {"backup": None})
