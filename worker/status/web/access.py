"""Who may read the dashboard: an access token, and the Host names it answers to.

Every request is hostile until checked. The Host check comes first: a page on another
site can make a browser resolve its own name to 127.0.0.1 (DNS rebinding) and read a
dashboard that trusts "localhost only"; the browser still sends the attacker's name in
`Host:`, which is refused. The token (MLMON_DASHBOARD_TOKEN) is taken from
`Authorization: Bearer`, a `?token=` on the address (answered with an HttpOnly cookie and
a redirect to the bare page, so the page's own API calls carry the token and the address
bar does not) or that cookie, and compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

WsgiApp = Callable[..., Iterable[bytes]]
StartResponse = Callable[..., Any]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
COOKIE = "mlmon_token"
OPEN_PATHS = frozenset({"/healthz"})  # the container healthcheck: says "ok", nothing more
ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104  (names, not a bind)


class AccessError(ValueError):
    """The dashboard cannot start with these access settings; the message says why."""


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(bound: str, configured: str | None) -> frozenset[str]:
    """The loopback names, the bound address (unless it is every interface) and the
    names in MLMON_DASHBOARD_HOSTS (comma-separated), lower-cased."""
    names = set(LOOPBACK_NAMES)
    if bound not in ANY_ADDRESS:
        names.add(bound.lower())
    names.update(part.strip().lower() for part in (configured or "").split(",") if part.strip())
    return frozenset(names)


def check_startup(bound: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if token is None and not is_loopback(bound):
        raise AccessError(
            f"listening on {bound} serves every network it can reach: set "
            "MLMON_DASHBOARD_TOKEN (16+ characters) first, or listen on 127.0.0.1"
        )


def host_name(header: str) -> str:
    """`Host:` without its port: 'example.com:8050' -> 'example.com', '[::1]:80' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AccessGuard:
    """WSGI middleware in front of the dashboard.

    app: the dashboard. token: the access token, or None for none (loopback only).
    hosts: the `Host:` names answered (see `allowed_hosts`).
    """

    def __init__(self, app: WsgiApp, *, token: str | None, hosts: frozenset[str]) -> None:
        self.app = app
        self.token = token.encode() if token is not None else None
        self.hosts = hosts

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if host_name(environ.get("HTTP_HOST", "")) not in self.hosts:
            return _refuse(start_response, "400 Bad Request", "this Host is not served")
        if self.token is None or environ.get("PATH_INFO") in OPEN_PATHS:
            return self.app(environ, start_response)
        from_query = _first(parse_qs(environ.get("QUERY_STRING", "")).get("token"))
        candidates = [_bearer(environ), _cookie(environ), from_query]
        if not any(self._matches(given) for given in candidates):
            return _refuse(start_response, "401 Unauthorized", "a valid token is required")
        if from_query is None or not self._matches(from_query):
            return self.app(environ, start_response)
        # the token came in the address: keep it as a cookie and send the browser to the
        # bare page, so that the token leaves the address bar and the history
        start_response(
            "303 See Other",
            [
                ("Location", "/"),
                ("Set-Cookie", f"{COOKIE}={from_query}; Path=/; HttpOnly; SameSite=Strict"),
                ("Content-Length", "0"),
                ("Cache-Control", "no-store"),
            ],
        )
        return [b""]

    def _matches(self, given: str | None) -> bool:
        return (
            given is not None
            and self.token is not None
            and hmac.compare_digest(given.encode(errors="replace"), self.token)
        )


def _bearer(environ: dict[str, Any]) -> str | None:
    scheme, _, credentials = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _cookie(environ: dict[str, Any]) -> str | None:
    try:
        morsel = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel is not None else None


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _refuse(start_response: StartResponse, status: str, error: str) -> list[bytes]:
    body = json.dumps({"error": error}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    if status.startswith("401"):
        headers.append(("WWW-Authenticate", 'Bearer realm="mlmon"'))
    start_response(status, headers)
    return [body]
