"""`mlmon dashboard`: its JSON API against `mlmon status --json` and a direct computation
over the published events, and the page itself in a real headless Chromium."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from helpers import VERDICTS, run_mlmon, status_json
from known_events import get, publish_known_events, serving

from producer_sdk import Prediction, Publisher
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHARTS = [
    "chart-predictions",
    "chart-ml-usage",
    "chart-agreement",
    "chart-confidence",
    "chart-verdicts",
    "chart-histogram",
    "chart-accuracy",
    "chart-pnl",
    "chart-retraining",
]


def api(url: str) -> Any:
    code, _, body = get(url)
    assert code == 200, body
    return json.loads(body)


def comparable(status: dict[str, Any]) -> dict[str, Any]:
    """The status without the fields that change on their own between two reads."""
    stable = {name: value for name, value in status.items() if name != "generated_at"}
    stable["consumer_groups"] = [
        {name: value for name, value in group.items() if name != "live_consumers"}
        for group in status["consumer_groups"]
    ]
    # what a window covers runs up to the moment of the read
    stable["windows"] = {
        name: {k: v for k, v in window.items() if k != "covers"}
        for name, window in status["windows"].items()
    }
    stable["drift"] = {k: v for k, v in status["drift"].items() if k != "window_covers"}
    return stable


def test_api_status_equals_status_json(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    publish_known_events(publisher, client, settings)
    assert run_mlmon("worker", "--burst", env=env).returncode == 0

    with serving("dashboard", env) as url:
        from_api = api(url + "/api/status")
    from_cli = status_json(env)

    assert from_api["total_predictions"] == 300
    assert comparable(from_api) == comparable(from_cli)


def bucket_start(ts: datetime, bucket: str) -> datetime:
    ts = ts.astimezone(UTC)
    if bucket == "minute":
        return ts.replace(second=0, microsecond=0)
    return ts.replace(minute=0, second=0, microsecond=0)


def direct(predictions: list[Prediction], metric: str) -> Any:
    """The metric of one bucket, computed from the events (None: nothing to divide)."""
    with_ml = [p for p in predictions if p.ml_verdict is not None]
    confidences = [p.ml_confidence for p in predictions if p.ml_confidence is not None]
    if metric == "predictions":
        return len(predictions)
    if metric == "ml_usage_rate":
        used = sum(p.verdict_source.value == "ml" for p in predictions)
        return used / len(predictions) if predictions else None
    if metric == "agreement_rate":
        agreed = sum(p.ml_verdict == p.rule_verdict for p in with_ml)
        return agreed / len(with_ml) if with_ml else None
    if metric == "avg_ml_confidence":
        return sum(confidences) / len(confidences) if confidences else None
    counts: dict[str, dict[str, int]] = {
        k: dict.fromkeys(VERDICTS, 0) for k in ("final", "ml", "rule")
    }
    for p in predictions:
        counts["final"][p.final_verdict.value] += 1
        counts["rule"][p.rule_verdict.value] += 1
        if p.ml_verdict is not None:
            counts["ml"][p.ml_verdict.value] += 1
    return counts


def test_timeseries_equal_a_direct_computation_over_the_event_timestamps(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    known = publish_known_events(publisher, client, settings, spread=timedelta(hours=5))
    assert run_mlmon("worker", "--burst", env=env).returncode == 0

    with serving("dashboard", env) as url:
        replies = {
            (metric, window): api(f"{url}/api/timeseries?metric={metric}&window={window}")
            for metric in (
                "predictions",
                "ml_usage_rate",
                "agreement_rate",
                "avg_ml_confidence",
                "verdicts",
            )
            for window in ("1h", "24h", "7d")
        }

    lengths = {"1h": 60, "24h": 24, "7d": 168}
    covered = {"1h": 0, "24h": 0}
    for (metric, window), reply in replies.items():
        bucket = reply["bucket"]
        assert bucket == ("minute" if window == "1h" else "hour")
        by_bucket: dict[datetime, list[Prediction]] = defaultdict(list)
        for prediction in known.predictions:
            by_bucket[bucket_start(prediction.ts, bucket)].append(prediction)
        points = reply["points"]
        assert len(points) == lengths[window]
        starts = [datetime.fromisoformat(p["start"]) for p in points]
        step = timedelta(seconds=reply["bucket_seconds"])
        assert all(b - a == step for a, b in itertools.pairwise(starts)), "oldest first"
        for start, point in zip(starts, points, strict=True):
            assert point["start_s"] == int(start.timestamp())
            expected = direct(by_bucket.get(start, []), metric)
            if isinstance(expected, float):
                assert point["value"] == pytest.approx(expected, abs=1e-12), (metric, start)
            else:
                assert point["value"] == expected, (metric, window, start)
        if metric == "predictions" and window in covered:
            covered[window] = sum(point["value"] for point in points)
    assert covered["24h"] == len(known.predictions), "every event is in one hour bucket"
    assert 0 < covered["1h"] < len(known.predictions), "the last hour holds some of them"


def test_bad_parameters_get_400_with_a_json_error(env: dict[str, str]) -> None:
    with serving("dashboard", env) as url:
        answers = {
            query: get(f"{url}/api/timeseries?{query}")
            for query in (
                "metric=bogus",
                "metric=predictions&window=2h",
                "window=1h",
                "metric=predictions&x=1",
            )
        }
        missing = get(url + "/api/nothing")
        script = get(url + "/static/app.js")
    errors = {
        "metric=bogus": "unknown metric 'bogus'; known: ",
        "metric=predictions&window=2h": "unknown window '2h'; known: ",
        "window=1h": "missing parameter metric",
        "metric=predictions&x=1": "unknown parameter(s) x",
    }
    assert set(answers) == set(errors)
    for query, (code, headers, body) in answers.items():
        assert code == 400, query
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["error"].startswith(errors[query]), (query, body)
    assert missing[0] == 404
    assert script[0] == 200 and script[1]["Content-Type"].startswith("text/javascript")
    assert "default-src 'none'" in script[1]["Content-Security-Policy"]


def launch_chromium(playwright: Any) -> Any:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the dashboard test needs Debian's Chromium; run "
            "`apt-get install chromium` (.ci/run installs it)"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def test_dashboard_page_in_headless_chromium(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    known = publish_known_events(publisher, client, settings)
    assert run_mlmon("worker", "--burst", env=env).returncode == 0
    ml_used = sum(p.verdict_source.value == "ml" for p in known.predictions)
    requests: list[str] = []
    problems: list[str] = []

    with serving("dashboard", env, "--refresh-s", "1") as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(url + "/")
            page.wait_for_function(
                "() => Number(document.body.dataset.refreshes) >= 2", timeout=10_000
            )

            total = page.text_content("#total-predictions")
            usage = page.text_content("#ml-usage-rate")
            charts = page.evaluate(
                """ids => ids.map(id => {
                    const figure = document.getElementById(id);
                    const svg = figure && figure.querySelector('svg');
                    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                    return {id, width: box.width, height: box.height,
                            marks: Number(figure && figure.dataset.marks),
                            shapes: svg ? svg.querySelectorAll('rect, circle, path').length : 0};
                })""",
                CHARTS,
            )
            seen = what_a_person_sees(page)
            dead_rows = page.locator("#dead-letters-table tbody tr").all_inner_texts()
            alerts_head = page.locator("#alerts-table thead").inner_text()
            drift = page.text_content("#drift-message")
            severity = page.text_content("#drift-severity")
            drift_window = page.text_content("#drift-window")
            covers = page.evaluate(
                """() => [...document.querySelectorAll('#windows-table tbody tr')]
                    .map(row => row.cells[row.cells.length - 1].textContent)"""
            )
            drift_rows = page.evaluate(
                """() => [...document.querySelectorAll('#drift-table tbody tr')]
                    .map(row => [...row.cells].map(cell => cell.textContent))"""
            )
            versions = page.locator("#versions-table tbody tr").count()
            screenshot = ROOT / "test-artifacts" / "dashboard-populated.png"
            screenshot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert problems == [], "no console errors"
    hosts = {urlsplit(request).hostname for request in requests}
    assert hosts == {"127.0.0.1"}, f"requests left localhost: {sorted(set(requests))}"
    assert total == str(len(known.predictions))
    assert usage == f"{ml_used / len(known.predictions) * 100:.1f}%"
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["marks"] > 0 and chart["shapes"] > 0, f"{chart['id']} drew nothing"
    # the known events drift from their baseline: the page says so, with the severity
    drift_status = status_json(env)["drift"]
    assert drift_status["available"] and drift_status["drift_detected"], drift_status
    assert (drift, severity) == ("drift detected", drift_status["severity"])
    # each check beside its own thresholds: a p-value against a p-value threshold
    rows = {row[0]: row for row in drift_rows}
    assert {name: row[2] for name, row in rows.items()} == {
        name: check["measure"] for name, check in drift_status["checks"].items()
    }
    assert rows["verdict_chi_square"][4:6] == ["< 0.001", "< 1.0e-4"]
    assert rows["page_hinkley"][4:6] == ["> 5.000", "> 10.000"]
    # what each window covers: whole UTC buckets up to now, 59 to 60 minutes for 1 h
    assert covers[0].split(":")[0] in {"59 min", "60 min"}
    assert all(" buckets from " in text for text in covers) and len(covers) == 3
    assert drift_window is not None and drift_window.startswith(
        f"window {drift_status['window']}: "
    )
    assert versions == 3
    assert screenshot.stat().st_size > 10_000
    assert seen == [], "what a person sees"
    [dead_row] = dead_rows
    assert "not JSON" in dead_row or "json" in dead_row.lower(), dead_row
    assert "mlmon dlq replay " in dead_row and "predictions" in dead_row
    assert "state" in alerts_head


# what a person would notice on the page: a broken number or date, a label cut off
SEEN_PROBLEMS_JS = """() => {
    const problems = [];
    const text = document.body.innerText + document.body.textContent;
    for (const bad of ["NaN", "1970", "undefined", "Infinity", "null"]) {
        if (text.includes(bad)) problems.push(`page text shows ${bad}`);
    }
    for (const label of document.querySelectorAll("text.time")) {
        if (Number(label.dataset.t) < 10 * 365 * 86400) {
            problems.push(`a time axis shows ${label.textContent} of 1970`);
        }
    }
    for (const svg of document.querySelectorAll("svg.chart-svg")) {
        const box = svg.getBoundingClientRect();
        for (const label of svg.querySelectorAll("text")) {
            const r = label.getBoundingClientRect();
            if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
                || r.bottom > box.bottom + 1) {
                problems.push(`${svg.parentElement.id}: "${label.textContent}" outside the chart`);
            }
        }
        const labels = [...svg.querySelectorAll("text.ref-label")]
            .map((t) => t.getBoundingClientRect());
        labels.forEach((a, i) => labels.slice(i + 1).forEach((b) => {
            if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
                problems.push(`${svg.parentElement.id}: reference labels overlap`);
            }
        }));
        const ticks = [...svg.querySelectorAll("text.tick")].map((t) => t.textContent);
        const axis = ticks.filter((t) => /^-?[0-9.]+%?$/.test(t));
        if (new Set(axis).size !== axis.length) {
            problems.push(`${svg.parentElement.id}: repeated axis ticks ${axis.join(",")}`);
        }
    }
    for (const card of document.querySelectorAll(".card")) {
        const box = card.getBoundingClientRect();
        for (const child of card.children) {
            const r = child.getBoundingClientRect();
            if (r.right > box.right + 1 || r.bottom > box.bottom + 1) {
                problems.push(`card ${card.innerText.split("\\n")[0]} overflows`);
            }
        }
    }
    return problems;
}"""


def what_a_person_sees(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(SEEN_PROBLEMS_JS)
    return problems


def test_empty_dashboard_in_headless_chromium(env: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with serving("dashboard", env, "--refresh-s", "1") as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(url + "/")
            page.wait_for_function(
                "() => Number(document.body.dataset.refreshes) >= 1", timeout=10_000
            )
            seen = what_a_person_sees(page)
            total = page.text_content("#total-predictions")
            marks = page.evaluate(
                "ids => ids.map(id => document.getElementById(id).dataset.marks)", CHARTS
            )
            notes = page.locator(".empty-note").count()
            dead = page.text_content("#dead-letters-message")
            screenshot = ROOT / "test-artifacts" / "dashboard-empty.png"
            screenshot.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert problems == []
    assert seen == [], "what a person sees"
    assert total == "0"
    assert set(marks) == {"0"}, "nothing drawn on an empty deployment"
    assert notes == len(CHARTS), "each empty chart says so"
    assert dead == "no dead letters"
    assert screenshot.stat().st_size > 10_000


def test_dead_letters_api(
    publisher: Publisher, client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    publish_known_events(publisher, client, settings)
    assert run_mlmon("worker", "--burst", env=env).returncode == 0
    with serving("dashboard", env) as url:
        dead = api(url + "/api/deadletters")
        bad = [get(f"{url}/api/deadletters?{q}")[0] for q in ("limit=0", "limit=x", "x=1")]
    [letter] = dead["letters"]
    assert dead["total"] == 1
    assert letter["stream"] == f"{settings.prefix}:stream:predictions"
    assert letter["reason"] and letter["dead_at"]
    assert letter["replay"] == f"mlmon dlq replay {letter['id']}"
    assert bad == [400, 400, 400]


def test_a_browser_opening_the_token_link_gets_the_page_and_its_data(env: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    token = "browser-test-token-0123456789abcdef"
    with (
        serving("dashboard", {**env, "MLMON_DASHBOARD_TOKEN": token}) as url,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{url}/?token={token}")
            page.wait_for_function(
                "() => Number(document.body.dataset.refreshes) >= 1", timeout=10_000
            )
            address = page.url
            total = page.text_content("#total-predictions")
            stranger = browser.new_page()
            refused = stranger.goto(url + "/")
            refused_code = refused.status if refused else None
        finally:
            browser.close()
    assert address == url + "/", "the token left the address bar"
    assert total == "0"
    assert refused_code == 401
