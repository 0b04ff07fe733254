"""The settings in effect, by environment variable name, for `mlmon config`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from worker.settings import ENV_OF_FIELD, MASK, Secret, Settings, mask_url


def effective_settings(settings: Settings) -> dict[str, Any]:
    """Every setting as `{env var: JSON value}`, in declaration order; secrets and the
    credentials in URLs masked, since this output ends up in tickets and chat."""
    view: dict[str, Any] = {}
    for field, name in ENV_OF_FIELD.items():
        value = getattr(settings, field)
        if isinstance(value, Secret):
            value = MASK
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, str) and "://" in value:
            value = mask_url(value)
        view[name] = value
    return view


def env_lines(view: dict[str, Any]) -> list[str]:
    """`NAME=value` lines as one would write them in the environment."""
    return [f"{name}={_env_text(value)}" for name, value in view.items()]


def _env_text(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true/false, numbers
