"""One typed settings object, read once from the environment.

Every variable is documented in the README's configuration table. An invalid value stops
startup with one line naming the variable and what it accepts (`SettingsError`).

The settings are a msgspec Struct: every `mlmon` command (and the compose healthcheck every
30 s) reads them, and building a pydantic model of some seventy fields cost each command
about 70 ms of imports and schema building; msgspec converts the environment's strings
with the same constraints in well under a millisecond.
"""

from worker.settings.loading import (
    ENV_NAMES,
    ENV_OF_FIELD,
    FIELD_DEFAULTS,
    FIELD_OF_ENV,
    load_settings,
)
from worker.settings.model import Settings
from worker.settings.values import (
    DEFAULT_REDIS_URL,
    MASK,
    Secret,
    SettingsError,
    duration_s,
    mask_url,
    rq_prefix_for,
)

__all__ = [
    "DEFAULT_REDIS_URL",
    "ENV_NAMES",
    "ENV_OF_FIELD",
    "FIELD_DEFAULTS",
    "FIELD_OF_ENV",
    "MASK",
    "Secret",
    "Settings",
    "SettingsError",
    "duration_s",
    "load_settings",
    "mask_url",
    "rq_prefix_for",
]
