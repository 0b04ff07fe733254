"""The dashboard's WSGI app: one page, its static assets, and a read-only JSON API.

    GET /                      the page (it refreshes itself from the API)
    GET /static/<file>         the page's script and style, served from the package
    GET /api/status            the dict `mlmon status --json` prints
    GET /api/timeseries        ?metric=predictions|ml_usage_rate|agreement_rate|
                               avg_ml_confidence|verdicts&window=1h|24h|7d
    GET /api/retraining        model lifecycle events and registry versions
    GET /api/deadletters       ?limit=1..200: the newest dead letters (reason, stream, group,
                               time, deliveries) with the command that replays each
    GET /healthz               200 when Redis answers, else 503 (the container healthcheck;
                               it reveals nothing, so it needs no token)

Every asset comes from this app and the Content-Security-Policy allows no other origin,
so the page works on a host without internet access and leaks nothing to a CDN. The
page writes data with `textContent` only; the policy forbids inline scripts as well.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import redis

from worker.consumer.deadletters import DeadLetters
from worker.keys import Keys
from worker.log import get_logger
from worker.retraining.timeline import retraining_timeline
from worker.settings import Settings
from worker.status.snapshot import build_status
from worker.status.web.timeseries import BadParameterError, timeseries

log = get_logger(__name__)

DEAD_LETTERS_SHOWN = 20
MAX_DEAD_LETTERS = 200
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
ApiHandler = Callable[[dict[str, list[str]]], Any]
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
STATUS_TEXT = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    503: "503 Service Unavailable",
}


class Response(NamedTuple):
    code: int
    content_type: str
    body: bytes
    cache: str = "no-store"


def load_static() -> dict[str, bytes]:
    """Every file of `worker/web/static`, by name: read once, served from memory."""
    folder = files("worker.status.web").joinpath("static")
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and "." + entry.name.rsplit(".", 1)[-1] in CONTENT_TYPES
    }


class DashboardApp:
    """WSGI callable; one Redis round trip (or a few pipelined ones) per API request."""

    def __init__(self, client: redis.Redis, settings: Settings, *, refresh_s: float) -> None:
        self.client = client
        self.settings = settings
        self.static = load_static()
        self.page = (
            self.static["index.html"]
            .decode()
            .replace("{{timezone}}", html.escape(settings.timezone))
            .replace("{{refresh_ms}}", str(round(refresh_s * 1000)))
            .replace("{{prefix}}", html.escape(settings.prefix))
            .encode()
        )
        self.api: dict[str, ApiHandler] = {
            "/api/status": lambda _query: build_status(self.client, self.settings),
            "/api/timeseries": self._timeseries,
            "/api/retraining": lambda _query: retraining_timeline(self.client, self.settings),
            "/api/deadletters": self._dead_letters,
            "/healthz": lambda _query: {"ok": bool(self.client.ping())},
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self._respond(environ)
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", response.cache),
            *SECURITY_HEADERS,
        ]
        start_response(STATUS_TEXT[response.code], headers)
        return [response.body]

    def _respond(self, environ: dict[str, Any]) -> Response:
        path = environ.get("PATH_INFO") or "/"
        if environ["REQUEST_METHOD"] != "GET":
            return _json(405, {"error": "only GET is served"})
        if path == "/":
            return Response(200, CONTENT_TYPES[".html"], self.page)
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        handler = self.api.get(path)
        if handler is None:
            return _json(404, {"error": f"no such path {path}"})
        return self._api(handler, parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True))

    def _api(self, handler: ApiHandler, query: dict[str, list[str]]) -> Response:
        """Bad parameters are the caller's error (400); Redis down is ours (503)."""
        try:
            return _json(200, handler(query))
        except BadParameterError as e:
            return _json(400, {"error": str(e)})
        except redis.RedisError as e:
            log.warning("cannot read Redis", component="dashboard", error=str(e))
            return _json(503, {"error": f"cannot read Redis: {e}"})

    def _timeseries(self, query: dict[str, list[str]]) -> dict[str, Any]:
        unknown = sorted(set(query) - {"metric", "window"})
        if unknown:
            raise BadParameterError(f"unknown parameter(s) {', '.join(unknown)}")
        if "metric" not in query:
            raise BadParameterError("missing parameter metric")
        return timeseries(
            self.client,
            self.settings,
            metric=query["metric"][-1],
            window=query.get("window", ["24h"])[-1],
        )

    def _dead_letters(self, query: dict[str, list[str]]) -> dict[str, Any]:
        unknown = sorted(set(query) - {"limit"})
        if unknown:
            raise BadParameterError(f"unknown parameter(s) {', '.join(unknown)}")
        text = query.get("limit", [str(DEAD_LETTERS_SHOWN)])[-1]
        if not text.isdigit() or not 1 <= int(text) <= MAX_DEAD_LETTERS:
            raise BadParameterError(f"limit must be a whole number from 1 to {MAX_DEAD_LETTERS}")
        letters = DeadLetters(self.client, self.settings).newest(limit=int(text))
        return {
            "total": sum(
                int(self.client.xlen(keys.dead_stream))
                for keys in Keys.partitions_of(self.settings)
            ),
            "letters": [
                {
                    "id": letter.letter_id,
                    "dead_at": letter.fields.get("dead_at"),
                    "stream": letter.stream,
                    "group": letter.fields.get("group"),
                    "reason": letter.fields.get("reason"),
                    "deliveries": letter.fields.get("deliveries"),
                    "replayed_as": letter.replayed_as,
                    "replay": f"mlmon dlq replay {letter.letter_id}",
                }
                for letter in letters
            ],
        }

    def _static(self, name: str) -> Response:
        body = self.static.get(name)
        if body is None or name == "index.html":
            return _json(404, {"error": f"no such file {name}"})
        content_type = CONTENT_TYPES["." + name.rsplit(".", 1)[-1]]
        return Response(200, content_type, body, cache="max-age=300")


def _json(code: int, data: Any) -> Response:
    return Response(code, "application/json", json.dumps(data).encode())
