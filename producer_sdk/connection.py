"""Redis clients from a URL: plain (`redis://`, `rediss://`, `unix://`) or through Sentinel
(`redis+sentinel://`, `rediss+sentinel://`), for the SDK and the workers alike.

The Sentinel form is the one Prefect, redisvl and LangChain accept:

    redis+sentinel://[user:password@]host1:26379[,host2:26379...]/<service>[/<db>][?options]

The user and password are the data nodes' (the primary's). Sentinel's own credentials and
TLS are separate options, since Sentinels are often deployed without either:
`sentinel_username`, `sentinel_password`, `sentinel_ssl` (`true`/`false`; default: the
same as the data nodes, `rediss+` meaning TLS). Any other option (`ssl_ca_certs`,
`ssl_cert_reqs`...) goes to the data-node connections as in `redis.Redis.from_url`.

Redis Cluster (with `MLMON_PARTITIONS`, see `producer_sdk.streams`) has its own scheme,
so that one string tells every process (the SDK has no other settings) to use a cluster
client, and a URL of one node is never taken for the whole cluster:

    redis+cluster://[user:password@]host1:7000[,host2:7001...][?options]   (rediss+: TLS)

Any reachable node will do; the client learns the others from it.

A client through Sentinel asks the Sentinels for the current primary at every new
connection, and a connection that gets READONLY (its server was demoted) is dropped and
reopened to the new primary: nothing is written to a server that is no longer primary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.sentinel import Sentinel, SentinelManagedConnection, SentinelManagedSSLConnection
from redis.utils import SENTINEL

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_CLUSTER_PORT = 6379
TRUE_TEXT = {"1", "true", "yes", "on"}
FALSE_TEXT = {"0", "false", "no", "off"}
# options of the data-node connections a Sentinel URL may carry: redis-py's typed URL
# options, and its TLS file and mode options (text as given)
TEXT_OPTIONS = frozenset(
    {"ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "client_name"}
)


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
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterUrl:
    """The parts of a `redis+cluster://` URL."""

    nodes: list[tuple[str, int]]
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def is_sentinel_url(url: str) -> bool:
    return urlsplit(url).scheme in SENTINEL_SCHEMES


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def _credentials_and_hosts(netloc: str) -> tuple[str, str, list[str]]:
    """`user:password@host:port,host:port` -> user, password (still quoted) and the
    `host:port` items: the netloc of a Sentinel or a cluster URL names several servers."""
    userinfo, _, hosts = netloc.rpartition("@")
    user, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    return user, password, [item for item in hosts.split(",") if item]


def parse_cluster_url(url: str) -> ClusterUrl:
    """Split a Redis Cluster URL; RedisUrlError names the part that is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        raise RedisUrlError(f"not a Redis Cluster URL: {parts.scheme}:// (use redis+cluster://)")
    user, password, hosts = _credentials_and_hosts(parts.netloc)
    nodes = [_host_port(item, default_port=DEFAULT_CLUSTER_PORT) for item in hosts]
    if not nodes:
        raise RedisUrlError("no cluster node given (redis+cluster://host:6379[,host:6379])")
    if parts.path.strip("/"):
        raise RedisUrlError("a Redis Cluster has only database 0: leave the path out")
    return ClusterUrl(
        nodes=nodes,
        username=unquote(user) or None,
        password=unquote(password) or None,
        ssl=CLUSTER_SCHEMES[parts.scheme],
        options=_typed_options(dict(parse_qsl(parts.query, keep_blank_values=True))),
    )


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Split a Sentinel URL; RedisUrlError names the part that is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SENTINEL_SCHEMES:
        raise RedisUrlError(f"not a Sentinel URL: {parts.scheme}:// (use redis+sentinel://)")
    user, password, hosts = _credentials_and_hosts(parts.netloc)
    sentinels = [_host_port(item) for item in hosts]
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
    sentinel_ssl = _flag("sentinel_ssl", options.pop("sentinel_ssl", str(ssl)))
    sentinel_username = options.pop("sentinel_username", None) or None
    sentinel_password = options.pop("sentinel_password", None) or None
    return SentinelUrl(
        sentinels=sentinels,
        service=path[0],
        db=db,
        username=unquote(user) or None,
        password=unquote(password) or None,
        ssl=ssl,
        sentinel_username=sentinel_username,
        sentinel_password=sentinel_password,
        sentinel_ssl=sentinel_ssl,
        options=_typed_options(options),
    )


def client_from_url(url: str, **client_options: Any) -> redis.Redis:
    """A client for `url`; `client_options` (timeouts, retry...) apply to the data nodes'
    connections and, for timeouts, to the Sentinels' too. Raises RedisUrlError or
    ValueError for a URL that cannot be used; connects lazily, like redis-py (but a
    cluster client asks a node for the slot map at once)."""
    if is_cluster_url(url):
        return cluster_client(parse_cluster_url(url), **client_options)
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
    data_options["connection_class"] = (
        DroppingSentinelSSLConnection if parsed.ssl else DroppingSentinelConnection
    )
    if parsed.username:
        data_options["username"] = parsed.username
    if parsed.password:
        data_options["password"] = parsed.password
    client: redis.Redis = sentinel.master_for(parsed.service, **data_options)  # type: ignore[no-untyped-call]
    return client


class DroppingSentinelConnection(SentinelManagedConnection):
    """A Sentinel-managed connection dropped when a read is interrupted, as plain ones are.

    redis-py's keeps it (`disconnect_on_error=False`): after a stop signal lands in a
    blocking read (RQ's idle worker), the next command on it reads the old reply, and RQ's
    clean-up failed with "Wrong number of response items" after waiting out the read."""

    def read_response(
        self,
        disable_decoding: Any = False,
        *,
        timeout: float | object = SENTINEL,
        disconnect_on_error: bool | None = True,
        push_request: bool | None = False,
    ) -> Any:
        return super().read_response(
            disable_decoding,
            timeout=timeout,
            disconnect_on_error=disconnect_on_error,
            push_request=push_request,
        )


class DroppingSentinelSSLConnection(DroppingSentinelConnection, SentinelManagedSSLConnection):
    """The same over TLS."""


def cluster_client(parsed: ClusterUrl, **client_options: Any) -> redis.Redis:
    """A RedisCluster client, typed as the `redis.Redis` whose commands it offers: mlmon
    sends it only single-slot commands and scripts (each partition is one hash tag)."""
    options: dict[str, Any] = {**parsed.options, **client_options}
    if parsed.ssl:
        options["ssl"] = True
    if parsed.username:
        options["username"] = parsed.username
    if parsed.password:
        options["password"] = parsed.password
    nodes = [ClusterNode(host, port) for host, port in parsed.nodes]  # type: ignore[no-untyped-call]
    return cast(redis.Redis, RedisCluster(startup_nodes=nodes, **options))


def is_cluster_client(client: object) -> bool:
    return isinstance(client, RedisCluster)


def _typed_options(options: dict[str, str]) -> dict[str, Any]:
    """redis-py's URL options, converted as `Redis.from_url` converts them; an unknown
    option is an error here rather than a TypeError at the first connection."""
    typed: dict[str, Any] = {}
    for name, value in options.items():
        if name in TEXT_OPTIONS:
            typed[name] = value
        elif name in URL_QUERY_ARGUMENT_PARSERS and name != "db":
            try:
                typed[name] = URL_QUERY_ARGUMENT_PARSERS[name](value)  # type: ignore[operator]
            except (TypeError, ValueError) as e:
                raise RedisUrlError(f"option {name} has an invalid value") from e
        else:
            known = ", ".join(sorted(TEXT_OPTIONS | set(URL_QUERY_ARGUMENT_PARSERS) - {"db"}))
            raise RedisUrlError(f"unknown option {name!r} (known: sentinel_*, {known})")
    return typed


def _flag(name: str, text: str) -> bool:
    if text.lower() in TRUE_TEXT | FALSE_TEXT:
        return text.lower() in TRUE_TEXT
    raise RedisUrlError(f"option {name} must be true or false")


def _host_port(text: str, *, default_port: int = DEFAULT_SENTINEL_PORT) -> tuple[str, int]:
    """'host', 'host:port', '[::1]' or '[::1]:port'; errors never repeat the text (a
    mistyped URL may have put part of a password here)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        if rest and not rest.startswith(":"):
            raise RedisUrlError("an IPv6 Sentinel address is written [address]:port")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise RedisUrlError("an address needs a host")
    try:
        number = int(port) if port else default_port
    except ValueError as e:
        raise RedisUrlError("a port must be a number") from e
    if not 0 < number < 65_536:
        raise RedisUrlError("a port must be from 1 to 65535")
    return host, number
