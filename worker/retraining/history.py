"""`logs/ml_retraining_history.txt`: one line per gate decision and per run.

Each line is `<UTC time> <kind> key=value ...` with JSON-quoted values, easy to grep and
to parse. Lines are short single writes in append mode, so processes can share the file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from worker.settings import Settings


def append_history(settings: Settings, kind: str, fields: dict[str, Any]) -> None:
    path = settings.retraining_history
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"{name}={json.dumps(value, separators=(',', ':'))}" for name, value in fields.items()]
    line = f"{datetime.now(UTC).isoformat(timespec='seconds')} {kind} {' '.join(parts)}\n"
    with path.open("a", encoding="utf-8") as file:
        file.write(line)
