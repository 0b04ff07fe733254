"""Reading the settings from the environment, with one-line errors naming the variable."""

from __future__ import annotations

import contextlib
import os
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from producer_sdk.connection import (
    RedisUrlError,
    is_cluster_url,
    is_sentinel_url,
    parse_cluster_url,
    parse_sentinel_url,
)
from worker.market import parse_days, parse_holidays, parse_hours
from worker.settings.model import Settings
from worker.settings.values import (
    FALSE_WORDS,
    HTTP_URL_PATTERN,
    MASK,
    MSGSPEC_KINDS,
    TRUE_WORDS,
    Secret,
    SettingsError,
    mask_url,
)


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; raise SettingsError with a one-line message.

    `overrides` take environment variable names: `load_settings(MLMON_PREFIX="test")`.
    """
    given: dict[str, object] = {
        name: os.environ[name] for name in FIELD_OF_ENV if name in os.environ
    }
    given |= overrides
    unknown = sorted(set(overrides) - set(FIELD_OF_ENV))
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
    raw = {
        FIELD_OF_ENV[name]: _normalised(FIELD_OF_ENV[name], value) for name, value in given.items()
    }
    raw = {field: value for field, value in raw.items() if value is not None}
    try:
        settings = msgspec.convert(raw, Settings, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as e:
        raise SettingsError(_one_line(e, given)) from e
    for field, check in FIELD_CHECKS.items():
        value = getattr(settings, field)
        try:
            if value is not None:
                check(value)
        except ValueError as e:
            raise SettingsError(_line(field, given, str(e))) from e
    for field, (min_chars, max_chars) in SECRET_CHARS.items():
        secret = getattr(settings, field)
        if secret is not None and not min_chars <= len(secret.get_secret_value()) <= max_chars:
            message = f"must be {min_chars} to {max_chars} characters long"
            raise SettingsError(_line(field, given, message))
    _check_partitions(settings, given)
    return settings


def _check_partitions(settings: Settings, given: Mapping[str, object]) -> None:
    """Partitions make their own hash tags from the prefix; RQ needs a Redis it can run on."""
    if settings.partitions > 1 and "{" in settings.prefix:
        message = "must be a plain name with MLMON_PARTITIONS > 1 (partitions add the hash tags)"
        raise SettingsError(_line("prefix", given, message))
    if settings.rq_redis_url is not None and is_cluster_url(settings.rq_redis_url):
        message = "RQ cannot run on a Redis Cluster: use a standalone or Sentinel Redis"
        raise SettingsError(_line("rq_redis_url", given, message))


def _normalised(field: str, value: object) -> object:
    """Environment text as the settings read it: None for an empty optional; numbers and
    booleans as Python writes them (`+7`, `1_000`, ` 5 `, `yes`, `t`), parsed here; any
    other text exactly as given (a secret or a path may start or end with a space)."""
    if not isinstance(value, str):
        return value
    if value.strip() == "" and FIELD_DEFAULTS[field] is None:
        return None  # an empty variable means unset, as compose files write it
    kind = SCALAR_KINDS.get(field)
    text = value.strip() if kind else value
    if kind is bool and text.lower() in TRUE_WORDS | FALSE_WORDS:
        return text.lower() in TRUE_WORDS
    if kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    if field == "log_level":
        return value.strip().upper()
    return text


def _decode(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    if kind is Secret and isinstance(value, str):
        return Secret(value)
    raise NotImplementedError(f"cannot read {kind.__name__} from {type(value).__name__}")


def _one_line(error: msgspec.ValidationError, given: Mapping[str, object]) -> str:
    """`NAME='value' is invalid: what is wrong (allowed: range)`, secrets masked."""
    text = str(error)
    match = re.search(r"at `\$\.(\w+)`", text)
    field = match.group(1) if match else ""
    message = re.sub(r"\s*- at `\$[^`]*`$", "", text)
    for kind, words in MSGSPEC_KINDS.items():
        message = message.replace(f"Expected `{kind}`", words)
    if message.startswith(MSGSPEC_KINDS["bool"]):
        message = MSGSPEC_KINDS["bool"]  # without msgspec's "got `str`"
    allowed = ALLOWED_RANGES.get(field)
    if allowed:
        message += f" (allowed: {allowed})"
    return _line(field, given, message)


def _line(field: str, given: Mapping[str, object], message: str) -> str:
    name = ENV_OF_FIELD.get(field, field or "?")
    shown = given.get(name, "")
    if field in SECRET_FIELDS:
        shown = MASK
    elif isinstance(shown, str) and "://" in shown:
        shown = mask_url(shown)
    return f"{name}={shown!r} is invalid: {message}"


def _check_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from e


def _check_redis_url(value: str) -> None:
    parts = urlsplit(value)
    several_servers = (
        parse_cluster_url
        if is_cluster_url(value)
        else parse_sentinel_url
        if is_sentinel_url(value)
        else None
    )
    if several_servers is not None:
        try:
            several_servers(value)
        except RedisUrlError as e:
            raise ValueError(str(e)) from e
        return
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(
            "must start with redis://, rediss://, unix://, redis+sentinel://, "
            "rediss+sentinel://, redis+cluster:// or rediss+cluster://"
        )
    try:
        parts.port  # noqa: B018  (parsing it is the check)
    except ValueError as e:
        raise ValueError("the port must be a number from 0 to 65535") from e


def _check_folder(value: Path) -> None:
    if value.exists() and not value.is_dir():
        raise ValueError("must be a folder (this path is a file)")


def _check_log_level(value: str) -> None:
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")


def _check_http_secret(value: Secret) -> None:
    if not re.fullmatch(HTTP_URL_PATTERN, value.get_secret_value()):
        raise ValueError("must be an http(s) URL")


FIELD_CHECKS: dict[str, Callable[[Any], object]] = {  # each raises ValueError
    "timezone": _check_timezone,
    "redis_url": _check_redis_url,
    "rq_redis_url": _check_redis_url,
    "home": _check_folder,
    "spool_dir": _check_folder,
    "log_level": _check_log_level,
    "alert_slack_webhook_url": _check_http_secret,
    "market_hours": parse_hours,
    "market_days": parse_days,
    "market_holidays": parse_holidays,
}


def _field_meta(annotation: Any) -> msgspec.Meta:
    """The `env(...)` Meta of a field's annotation (inside `X | None` too)."""
    for part in (annotation, *typing.get_args(annotation)):
        for meta in getattr(part, "__metadata__", ()):
            if isinstance(meta, msgspec.Meta) and meta.extra and "env" in meta.extra:
                return meta
    raise TypeError(f"a settings field without env(...): {annotation!r}")


def _base_type(hint: Any) -> Any:
    """`int` of `Annotated[int, ...]`; the hint itself otherwise."""
    return getattr(hint, "__origin__", hint)


def _allowed_range(meta: msgspec.Meta) -> str | None:
    """A numeric field's whole range, e.g. `0 <= value <= 1`; None without bounds."""
    low = (
        f"{meta.ge} <= " if meta.ge is not None else f"{meta.gt} < " if meta.gt is not None else ""
    )
    high = (
        f" <= {meta.le}" if meta.le is not None else f" < {meta.lt}" if meta.lt is not None else ""
    )
    return f"{low}value{high}" if low or high else None


_HINTS = typing.get_type_hints(Settings, include_extras=True)
_METAS = {field: _field_meta(_HINTS[field]) for field in Settings.__struct_fields__}
ENV_OF_FIELD: dict[str, str] = {field: str(meta.extra["env"]) for field, meta in _METAS.items()}  # type: ignore[index]
FIELD_OF_ENV: dict[str, str] = {name: field for field, name in ENV_OF_FIELD.items()}
ENV_NAMES = tuple(FIELD_OF_ENV)
FIELD_DEFAULTS: dict[str, object] = dict(
    zip(
        Settings.__struct_fields__,
        [f.default for f in msgspec.structs.fields(Settings)],
        strict=True,
    )
)
ALLOWED_RANGES = {
    field: allowed for field, meta in _METAS.items() if (allowed := _allowed_range(meta))
}
SCALAR_KINDS: dict[str, type] = {
    field: kind
    for field, hint in _HINTS.items()
    for kind in (bool, int, float)
    if kind in (getattr(hint, "__origin__", hint), *map(_base_type, typing.get_args(hint)))
}
SECRET_CHARS: dict[str, tuple[int, int]] = {
    field: meta.extra["secret_chars"]  # type: ignore[index]
    for field, meta in _METAS.items()
    if "secret_chars" in (meta.extra or {})
}
SECRET_FIELDS = frozenset(
    field for field, hint in _HINTS.items() if Secret in map(_base_type, typing.get_args(hint))
)
