"""Serving a WSGI app from the standard library until SIGTERM or Ctrl+C.

`wsgiref` with one daemon thread per request is enough for a dashboard and a scrape
endpoint: each request is one short Redis round trip, and no web framework has to be
installed next to the workers. What it lacks by default is a listen backlog: 5 pending
connections, so a burst of clients (a few dashboards, Prometheus replicas) got refused
or timed out; the server here queues 1024.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from worker.signals import on_stop_signals

WsgiApp = Callable[..., Any]


class ThreadingServer(ThreadingMixIn, WSGIServer):
    """One daemon thread per request, so a slow client cannot block a scrape."""

    daemon_threads = True
    request_queue_size = 1024  # listen() backlog; the kernel caps it at net.core.somaxconn


class ThreadingServer6(ThreadingServer):
    address_family = socket.AF_INET6


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: a scrape every 15 s would flood stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        return


def bind(app: WsgiApp, host: str, port: int) -> WSGIServer:
    """A server listening on host:port (port 0: a free one); OSError when it cannot bind."""
    server_class = ThreadingServer6 if ":" in host else ThreadingServer
    return make_server(host, port, app, server_class=server_class, handler_class=QuietHandler)


def serve_until_stopped(server: WSGIServer) -> None:
    """Serve until SIGTERM or SIGINT, then close the socket and return."""

    def stop(_signal: signal.Signals) -> None:
        # shutdown() waits for serve_forever() to return, so it must not run on its thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    restore = on_stop_signals(stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        restore()
        server.server_close()


def url_of(server: WSGIServer, path: str) -> str:
    host = str(server.server_address[0])
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{server.server_port}{path}"
