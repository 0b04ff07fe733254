"""The settings' building blocks: constants, the error, secrets, field metadata, URL
masking; what the model and its loader share."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DURATION_PATTERN = r"^\d+(\.\d+)?[smhd]$"  # 30s, 5m, 4h, 1d
HTTP_URL_PATTERN = r"^https?://\S+$"
EMAIL_PATTERN = r"^[^@\s,]+@[^@\s,]+(,[^@\s,]+@[^@\s,]+)*$"  # one or more, comma-separated
DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})  # what pydantic took
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})
MASK = "***"
MSGSPEC_KINDS = {  # msgspec's words for a type -> this module's one-line messages
    "bool": "must be true or false (or 1/0, yes/no, on/off)",
    "int | null": "must be a whole number",
    "float | null": "must be a number",
    "str | null": "must be text",
    "int": "must be a whole number",
    "float": "must be a number",
    "str": "must be text",
}


class SettingsError(Exception):
    """A setting has a value mlmon cannot run with; the message is one line."""


class Secret:
    """A secret setting: its value only through `get_secret_value()`, never in a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def env(
    name: str, *, secret_chars: tuple[int, int] | None = None, **constraints: Any
) -> msgspec.Meta:
    """A field's environment variable and its constraints (msgspec's `Meta`); a `Secret`
    field's (min, max) length goes in `secret_chars` (msgspec constrains only its own types)."""
    extra: dict[str, Any] = {"env": name}
    if secret_chars is not None:
        extra["secret_chars"] = secret_chars
    return msgspec.Meta(extra=extra, **constraints)


def rq_prefix_for(prefix: str) -> str:
    return f"{prefix}:rq"


def duration_s(text: str) -> float:
    """'30s', '5m', '4h', '1d' -> seconds."""
    return float(text[:-1]) * DURATION_UNITS_S[text[-1]]


def mask_url(url: str) -> str:
    """`url` with its password and every credential-like query value replaced by ***, for
    logs, messages and `mlmon config`.

    It does not trust `urlsplit` with the user part: a password with an unescaped `/`, `#`
    or `?` would end the netloc early and show its tail. Everything between `://` and the
    last `@` is the user part (over-masking a query that holds an `@` is harmless), and
    anything that does not even parse is masked whole.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url if "@" not in url else MASK
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = (f"{user}:{MASK}" if colon else MASK) + rest[at:]
    try:
        parts = urlsplit(f"{scheme}://{rest}")
    except ValueError:
        return f"{scheme}://{MASK}"
    query = urlencode(
        [(k, MASK if _secret_word(k) else v) for k, v in parse_qsl(parts.query, True)],
        safe="*",
    )
    return urlunsplit(parts._replace(query=query))


def _secret_word(name: str) -> bool:
    """A query parameter that carries a credential (`?password=`, `?token=`, `?sig=`...)."""
    lowered = name.lower()
    return lowered in {"sig", "signature", "pwd"} or any(
        word in lowered for word in ("pass", "token", "secret", "key", "auth")
    )
