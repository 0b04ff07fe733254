"""The settings in effect, by environment variable name, for `mlmon config`."""

from __future__ import annotations

import json
from typing import Any

from worker.settings import Settings, mask_url


def effective_settings(settings: Settings) -> dict[str, Any]:
    """Every setting as `{env var: JSON value}`, in declaration order; secrets and the
    credentials in URLs masked, since this output ends up in tickets and chat."""
    values = settings.model_dump(mode="json")
    view: dict[str, Any] = {}
    for field, info in Settings.model_fields.items():
        name = info.validation_alias if isinstance(info.validation_alias, str) else field
        view[name] = values[field]
    for name, value in view.items():  # a URL's password or token, whichever setting
        if isinstance(value, str) and "://" in value:
            view[name] = mask_url(value)
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
