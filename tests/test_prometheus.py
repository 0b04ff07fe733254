"""The Prometheus side: promtool checks and unit tests of deploy/prometheus/, and two real
`mlmon exporter` replicas scraped by one real Prometheus whose every rule stays healthy
and whose every alert comes once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from helpers import run_mlmon, wait_until
from known_events import publish_known_events, serving

from producer_sdk import Publisher
from worker.local.redis_server import free_port
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "mlmon-alerts.yml"
# the two rules about one exporter process, which keep its instance label
PER_EXPORTER_ALERTS = {"MlmonExporterCannotReadRedis", "MlmonExporterDown"}


def binary(name: str) -> str:
    """The path of Debian's `prometheus` or `promtool`; CI (.ci/run) installs them, and
    elsewhere a test needing one is skipped with the reason."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} not found: .ci/run installs Debian's prometheus")
        pytest.skip(f"{name} not installed (apt-get install prometheus)")
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_promtool_accepts_the_rules_and_the_config() -> None:
    rules = promtool("check", "rules", RULES.name)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    tests = sorted(str(p.relative_to(PROMETHEUS_DIR)) for p in PROMETHEUS_DIR.glob("tests/*.yml"))
    assert tests, "deploy/prometheus/tests/ holds the rules' unit tests"
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def prometheus_api(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as response:  # noqa: S310  (our URL)
        return json.loads(response.read())["data"]


@contextmanager
def prometheus(targets: list[str], tmp_path: Path) -> Iterator[str]:
    """A real Prometheus scraping `targets` every second with mlmon's rules; its URL."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "mlmon", "static_configs": [{"targets": targets}]}],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [
            binary("prometheus"),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert process.poll() is None, process.communicate()[1][-2000:]
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as answer:  # noqa: S310
                    return bool(answer.status == 200)
            except OSError:
                return False

        wait_until(ready, 30, poll_s=0.2, what="Prometheus ready")
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_two_exporters_one_prometheus_every_rule_healthy_each_alert_once(
    publisher: Publisher,
    client: redis.Redis,
    settings: Settings,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    publish_known_events(publisher, client, settings)
    assert run_mlmon("worker", "--burst", env=env).returncode == 0
    # the market always open, so the no-traffic rule is evaluated in full
    env = {**env, "ML_MARKET_HOURS": "00:00-24:00", "ML_MARKET_DAYS": "mon-sun"}

    with ExitStack() as stack:
        exporters = [stack.enter_context(serving("exporter", env)) for _ in range(2)]
        targets = [url.removeprefix("http://") for url in exporters]
        base = stack.enter_context(prometheus(targets, tmp_path))

        def scraped_twice_and_evaluated() -> bool:
            query = "count_over_time(mlmon_up[1m])"
            samples = prometheus_api(base, f"/api/v1/query?query={query}")["result"]
            scraped = len(samples) == 2 and all(int(s["value"][1]) >= 3 for s in samples)
            rules = every_rule(base)
            evaluated = all(rule["health"] != "unknown" for rule in rules)
            return scraped and evaluated and bool(prometheus_api(base, "/api/v1/alerts")["alerts"])

        wait_until(scraped_twice_and_evaluated, 60, poll_s=0.5, what="two scraped exporters")
        rules = every_rule(base)
        alerts = prometheus_api(base, "/api/v1/alerts")["alerts"]
        panels = {
            (title, expr): query(base, expr)
            for title, exprs in dashboard_queries()
            for expr in exprs
        }

    unhealthy = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert unhealthy == {}
    assert len(rules) == len(yaml.safe_load(RULES.read_text())["groups"][0]["rules"])
    seen = Counter(
        (alert["labels"]["alertname"], json.dumps(alert["labels"], sort_keys=True))
        for alert in alerts
    )
    assert [key for key, count in seen.items() if count > 1] == []
    names = Counter(alert["labels"]["alertname"] for alert in alerts)
    for alert in alerts:
        if alert["labels"]["alertname"] not in PER_EXPORTER_ALERTS:
            assert "instance" not in alert["labels"], alert
    # what the known events raise, once each: no traffic now, drift per check
    assert names["MlmonNoPredictions"] == 1
    drift_checks = [a["labels"]["check"] for a in alerts if "Drift" in a["labels"]["alertname"]]
    assert drift_checks and len(drift_checks) == len(set(drift_checks))
    # the Grafana queries: one value per label set, whatever the replicas
    for panel, series in panels.items():
        assert all("instance" not in s["metric"] for s in series), panel
        label_sets = [json.dumps(s["metric"], sort_keys=True) for s in series]
        assert len(label_sets) == len(set(label_sets)), panel
    [total] = [series for (title, _), series in panels.items() if title == "Total predictions"]
    assert [float(s["value"][1]) for s in total] == [300]


def dashboard_queries() -> list[tuple[str, list[str]]]:
    """(title, expressions) of every Grafana panel, its variables set as Grafana would:
    the job, and every exporter (`All`)."""
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "mlmon-dashboard.json").read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "instance"} <= variables
    return [
        (
            panel["title"],
            [
                t["expr"].replace("$job", "mlmon").replace("$instance", ".*")
                for t in panel.get("targets", [])
            ],
        )
        for panel in dashboard["panels"]
    ]


def query(base: str, expr: str) -> list[dict[str, Any]]:
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    result: list[dict[str, Any]] = prometheus_api(base, path)["result"]
    return result


def every_rule(base: str) -> list[dict[str, Any]]:
    groups = prometheus_api(base, "/api/v1/rules")["groups"]
    return [rule for group in groups for rule in group["rules"]]
