"""`mlmon exporter` (Prometheus /metrics) and `mlmon dashboard` (the web page).

Both only read Redis, so any number of them can run beside the workers. They listen on
127.0.0.1 unless told otherwise: the dashboard shows tickers and verdicts, so it refuses
to listen anywhere else without MLMON_DASHBOARD_TOKEN, and answers only to the Host names
it knows (the loopback names, the bound address, MLMON_DASHBOARD_HOSTS).
"""

from __future__ import annotations

import click
from prometheus_client import make_wsgi_app

from worker.cli.common import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    fail,
    redis_or_exit,
    say,
    settings_or_exit,
)
from worker.status.exporter import make_registry
from worker.status.web.access import AccessError, AccessGuard, allowed_hosts, check_startup
from worker.status.web.app import DashboardApp
from worker.status.web.server import WsgiApp, bind, serve_until_stopped, url_of

REDIS_CONNECTIONS = 32  # shared by the request threads; more requests wait for one
HOST_HELP = "Address to listen on (0.0.0.0 or :: for every interface)."


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option("--port", default=9108, show_default=True, help="TCP port (0: any free one).")
def exporter(host: str, port: int) -> None:
    """Serve Prometheus metrics at /metrics, read from Redis at each scrape."""
    settings = settings_or_exit()
    client = redis_or_exit(settings, shared_by_threads=REDIS_CONNECTIONS)
    app = make_wsgi_app(make_registry(client, settings))
    _serve(app, host, port, "exporter", "/metrics")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option("--port", default=8050, show_default=True, help="TCP port (0: any free one).")
@click.option(
    "--refresh-s",
    default=5.0,
    show_default=True,
    type=click.FloatRange(1, 3600),
    help="Seconds between the page's refreshes.",
)
def dashboard(host: str, port: int, refresh_s: float) -> None:
    """Serve the web dashboard and its JSON API (/api/status, /api/timeseries)."""
    settings = settings_or_exit()
    token = settings.dashboard_token
    secret = token.get_secret_value() if token is not None else None
    try:
        check_startup(host, secret)
    except AccessError as e:
        fail(f"dashboard: {e}", EXIT_CONFIG)
    client = redis_or_exit(settings, shared_by_threads=REDIS_CONNECTIONS)
    app = DashboardApp(client, settings, refresh_s=refresh_s)
    guarded = AccessGuard(app, token=secret, hosts=allowed_hosts(host, settings.dashboard_hosts))
    _serve(guarded, host, port, "dashboard", "/")


def _serve(app: WsgiApp, host: str, port: int, name: str, path: str) -> None:
    try:
        server = bind(app, host, port)
    except OSError as e:
        fail(f"{name}: cannot listen on {host}:{port}: {e.strerror or e}", EXIT_UNAVAILABLE)
    say(f"mlmon {name}: serving {url_of(server, path)} (Ctrl+C to stop)")
    serve_until_stopped(server)
