"""Redis clients from a URL: plain (`redis://`, `rediss://`, `unix://`) or through Sentinel
(`redis+sentinel://`, `rediss+sentinel://`), for the SDK and the workers alike.

The Sentinel form is the one Prefect, redisvl and LangChain accept:

    redis+sentinel://[user:password@]host1:26379[,host2:26379...]/<service>[/<db>][?options]

The user and password are the data nodes' (the primary's). Sentinel's own credentials and
TLS are separate options, since Sentinels are often deployed without either:
`sentinel_username`, `sentinel_password`, `sentinel_ssl` (`true`/`false`; default: the
same as the data nodes, `rediss+` meaning TLS). Any other option (`ssl_ca_certs`,
`ssl_cert_reqs`...) goes to the data-node connections as in `redis.Redis.from_url`.

A client through Sentinel asks the Sentinels for the current primary at every new
connection, and a connection that gets READONLY (its server was demoted) is dropped and
reopened to the new primary: nothing is written to a server that is no longer primary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.sentinel import Sentinel

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS
DEFAULT_SENTINEL_PORT = 26379
TRUE_TEXT = {"1", "true", "yes", "on"}


class RedisUrlError(ValueError):
    """A Redis URL that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class SentinelUrl:
    """The parts of a `redis+sentinel://` URL."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    sentinel_ssl: bool = False
    options: dict[str, str] = field(default_factory=dict)


def is_sentinel_url(url: str) -> bool:
    return urlsplit(url).scheme in SENTINEL_SCHEMES


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Split a Sentinel URL; RedisUrlError names the part that is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SENTINEL_SCHEMES:
        raise RedisUrlError(f"not a Sentinel URL: {parts.scheme}:// (use redis+sentinel://)")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    sentinels = [_host_port(item) for item in hosts.split(",") if item]
    if not sentinels:
        raise RedisUrlError("no Sentinel host given (redis+sentinel://host:26379/<service>)")
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise RedisUrlError("the path must be /<service> or /<service>/<db>")
    try:
        db = int(path[1]) if len(path) == 2 else 0
    except ValueError as e:
        raise RedisUrlError(f"the database must be a number, not {path[1]!r}") from e
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    ssl = SENTINEL_SCHEMES[parts.scheme]
    sentinel_ssl = options.pop("sentinel_ssl", str(ssl)).lower() in TRUE_TEXT
    return SentinelUrl(
        sentinels=sentinels,
        service=path[0],
        db=db,
        username=unquote(user) or None,
        password=unquote(password) or None,
        ssl=ssl,
        sentinel_username=options.pop("sentinel_username", None) or None,
        sentinel_password=options.pop("sentinel_password", None) or None,
        sentinel_ssl=sentinel_ssl,
        options=options,
    )


def client_from_url(url: str, **client_options: Any) -> redis.Redis:
    """A client for `url`; `client_options` (timeouts, retry...) apply to the data nodes'
    connections and, for timeouts, to the Sentinels' too. Raises RedisUrlError or
    ValueError for a URL that cannot be used; connects lazily, like redis-py."""
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **client_options)
    parsed = parse_sentinel_url(url)
    timeouts: dict[str, Any] = {
        name: client_options[name]
        for name in ("socket_timeout", "socket_connect_timeout")
        if name in client_options
    }
    sentinel_kwargs: dict[str, Any] = {**timeouts, "ssl": parsed.sentinel_ssl}
    if parsed.sentinel_username:
        sentinel_kwargs["username"] = parsed.sentinel_username
    if parsed.sentinel_password:
        sentinel_kwargs["password"] = parsed.sentinel_password
    sentinel = Sentinel(parsed.sentinels, sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
    data_options: dict[str, Any] = {**parsed.options, **client_options, "db": parsed.db}
    if parsed.ssl:
        data_options["ssl"] = True
    if parsed.username:
        data_options["username"] = parsed.username
    if parsed.password:
        data_options["password"] = parsed.password
    client: redis.Redis = sentinel.master_for(parsed.service, **data_options)  # type: ignore[no-untyped-call]
    return client


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    host = host.strip("[]")  # an IPv6 address in brackets
    if not host:
        raise RedisUrlError(f"a Sentinel address needs a host: {text!r}")
    try:
        number = int(port) if port else DEFAULT_SENTINEL_PORT
    except ValueError as e:
        raise RedisUrlError(f"the port of {text!r} must be a number") from e
    if not 0 < number < 65_536:
        raise RedisUrlError(f"the port of {text!r} must be from 1 to 65535")
    return host, number
