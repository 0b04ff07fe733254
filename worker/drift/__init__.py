"""Drift detection: the checks (pure), the stored baseline, and the report in `mlmon status`."""
