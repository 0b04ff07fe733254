"""Who may read the dashboard, and how many at once: the access token, the Host allow-list,
the refusal to listen beyond loopback without a token, and 200 concurrent clients of the
dashboard and the exporter, against the real `mlmon dashboard` and `mlmon exporter`."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from helpers import run_mlmon
from known_events import serving

TOKEN = "a-long-enough-test-token-0123456789"
CONCURRENT_CLIENTS = 200


def request(
    url: str, path: str, headers: dict[str, str] | None = None, *, timeout_s: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET with the given headers (Host included)."""
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_with_a_token_set_a_request_without_it_is_refused(env: dict[str, str]) -> None:
    with serving("dashboard", {**env, "MLMON_DASHBOARD_TOKEN": TOKEN}) as url:
        answers = {
            "nothing": request(url, "/"),
            "no token, API": request(url, "/api/status"),
            "wrong bearer": request(url, "/api/status", {"Authorization": "Bearer x" + TOKEN}),
            "wrong query": request(url, "/?token=" + TOKEN[:-1]),
            "wrong cookie": request(url, "/api/status", {"Cookie": "mlmon_token=nope"}),
            "bearer": request(url, "/api/status", {"Authorization": f"Bearer {TOKEN}"}),
            "query": request(url, f"/?token={TOKEN}"),
            "cookie": request(url, "/api/status", {"Cookie": f"mlmon_token={TOKEN}"}),
        }
    for refused in ("nothing", "no token, API", "wrong bearer", "wrong query", "wrong cookie"):
        code, headers, body = answers[refused]
        assert code == 401, refused
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN.encode() not in body
        assert b"total_predictions" not in body
    for accepted in ("bearer", "cookie"):
        assert answers[accepted][0] == 200, accepted
    assert json.loads(answers["bearer"][2])["total_predictions"] == 0
    # the token in the address becomes a cookie, and the address loses it
    code, headers, _ = answers["query"]
    assert code == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"mlmon_token={TOKEN};") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


@pytest.mark.parametrize("token", [None, TOKEN])
def test_a_foreign_host_header_is_refused(env: dict[str, str], token: str | None) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    extra = {"MLMON_DASHBOARD_TOKEN": token} if token else {}
    with serving("dashboard", {**env, **extra, "MLMON_DASHBOARD_HOSTS": "mlmon.example"}) as url:
        port = urlsplit(url).port
        codes = {
            host: request(url, "/api/status", {**auth, "Host": host})[0]
            for host in (
                "attacker.example",
                f"attacker.example:{port}",
                "localhost.attacker.example",
                "",
                f"localhost:{port}",
                f"127.0.0.1:{port}",
                f"[::1]:{port}",
                "MLMON.example",
            )
        }
    assert codes == {
        "attacker.example": 400,
        f"attacker.example:{port}": 400,
        "localhost.attacker.example": 400,
        "": 400,
        f"localhost:{port}": 200,
        f"127.0.0.1:{port}": 200,
        f"[::1]:{port}": 200,
        "MLMON.example": 200,
    }


def test_listening_beyond_loopback_needs_a_token(env: dict[str, str]) -> None:
    env = {name: value for name, value in env.items() if name != "MLMON_DASHBOARD_TOKEN"}
    result = run_mlmon("dashboard", "--host", "0.0.0.0", "--port", "0", env=env)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "MLMON_DASHBOARD_TOKEN" in line and "0.0.0.0" in line


@pytest.mark.parametrize(
    ("command", "path"), [("dashboard", "/api/status"), ("exporter", "/metrics")]
)
def test_200_concurrent_requests_all_succeed(env: dict[str, str], command: str, path: str) -> None:
    start = threading.Barrier(CONCURRENT_CLIENTS)

    def one_client(_: int) -> int:
        start.wait()  # every client connects at the same moment
        return request(url, path, timeout_s=60)[0]

    with serving(command, env) as url, ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        codes = list(pool.map(one_client, range(CONCURRENT_CLIENTS)))
    assert codes == [200] * CONCURRENT_CLIENTS
