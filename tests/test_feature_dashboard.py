"""The features panel of the web dashboard, in headless Chromium: the table of features,
the baseline vs window histogram of a chosen feature, and hostile names shown as text."""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import run_mlmon, status_json
from known_events import serving
from test_feature_drift_end_to_end import SHIFTED, featured_predictions
from test_web_dashboard import launch_chromium, what_a_person_sees

from producer_sdk import Publisher

HOSTILE = "<img src=x onerror=alert(1)>"


def test_features_panel_shows_the_drifted_feature_and_its_histograms(
    publisher: Publisher, env: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    env = {**env, "ML_BASELINE_SAMPLES": "2000", "ML_DRIFT_WINDOW": "1h", "MLMON_BATCH_SIZE": "500"}
    rng = np.random.default_rng(15)
    baseline = featured_predictions(rng, 2_000, hours_ago=2, changed=False)
    window = featured_predictions(rng, 2_000, hours_ago=0, changed=True)
    for prediction in baseline + window:
        assert prediction.features is not None
        prediction.features[HOSTILE] = prediction.features["feature_0"]
    publisher.publish_many(baseline)
    publisher.publish_many(window)
    assert run_mlmon("worker", "--burst", "--groups", "metrics", env=env).returncode == 0
    problems: list[str] = []
    with serving("dashboard", env, "--refresh-s", "1") as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page: Any = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("dialog", lambda dialog: problems.append(f"dialog {dialog.message}"))
            page.goto(url + "/")
            page.wait_for_function(
                "() => Number(document.body.dataset.refreshes) >= 1", timeout=10_000
            )
            rows = page.evaluate(
                """() => [...document.querySelectorAll('#features-table tbody tr')]
                    .map(row => [...row.cells].map(cell => cell.textContent))"""
            )
            page.select_option("#feature-select", SHIFTED)
            page.wait_for_function(
                "() => Number(document.body.dataset.refreshes) >= 2", timeout=10_000
            )
            chart = page.evaluate(
                """() => {
                    const figure = document.getElementById('chart-feature');
                    return {marks: Number(figure.dataset.marks),
                            label: figure.querySelector('svg').getAttribute('aria-label')};
                }"""
            )
            injected = page.evaluate("() => document.querySelectorAll('img').length")
            seen = what_a_person_sees(page)
        finally:
            browser.close()
    assert problems == []
    assert rows[0][0] == SHIFTED and rows[0][2] == "critical"
    assert HOSTILE in [row[0] for row in rows] and injected == 0
    shifted = next(r for r in status_json(env)["features"]["features"] if r["feature"] == SHIFTED)
    assert chart["marks"] == 2 * shifted["bins"] >= 10, chart  # both histograms, every bin
    assert SHIFTED in (chart["label"] or "")
    assert seen == []
