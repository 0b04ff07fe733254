"""`mlmon demo`, the README's first command, end to end against a real Redis."""

from __future__ import annotations

from pathlib import Path

from helpers import run_mlmon


def test_demo_ends_with_a_dashboard_of_its_traffic_and_a_promoted_model(
    env: dict[str, str], home: Path
) -> None:
    result = run_mlmon("demo", "--predictions", "3000", env=env, timeout_s=120)

    assert result.returncode == 0, result.stderr
    dashboard = result.stdout
    assert "ML MONITORING DASHBOARD" in dashboard
    assert "Total Predictions: 4500" in dashboard  # 3000, then 1500 of a degrading model
    assert "ML Accuracy:" in dashboard and "Rule Accuracy:" in dashboard
    assert "Live Model Version: 1" in dashboard
    assert "Drift detected: CRITICAL" in dashboard
    assert "firing: drift:" in dashboard
    # the degrading model's inputs: one changes scale (drift), one goes missing (quality)
    assert "Drifted features: volume_ratio" in dashboard
    assert "Data quality WARN: missing (vwap_gap_pct)" in dashboard
    assert "Last Refusal: interval" in dashboard  # the drift asked the gate for a retrain
    assert (home / "models" / "verdict_model.pkl").exists()
    assert list((home / "logs" / "ml_predictions").glob("predictions_*.jsonl"))
    assert (home / "data" / "ml_feedback.csv").exists()
