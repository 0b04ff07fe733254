"""`mlmon baseline set` and `mlmon baseline show`: the drift baseline."""

from __future__ import annotations

import json

import click

from worker.cli.common import EXIT_CONFIG, fail, redis_or_exit, settings_or_exit
from worker.counters.features import FEATURE_PREFIX, feature_histograms
from worker.counters.metrics import summarize
from worker.drift.baseline import get_baseline, set_baseline
from worker.drift.report import partition_window_counters
from worker.keys import Keys


@click.group()
def baseline() -> None:
    """The drift baseline: a snapshot of the metrics to compare later windows with."""


@baseline.command("set")
@click.option("--window", type=click.Choice(["1h", "24h", "7d"]), default="24h", show_default=True)
def baseline_set(window: str) -> None:
    """Make the metrics of the last WINDOW the baseline (Page-Hinkley restarts from its mean)."""
    settings = settings_or_exit(ML_DRIFT_WINDOW=window)
    client = redis_or_exit(settings)
    counters = partition_window_counters(client, settings)
    if not counters.get("predictions"):
        fail(f"no predictions in the last {window}; nothing to take as a baseline", EXIT_CONFIG)
    recent = client.lindex(Keys.partitions_of(settings)[0].metrics_recent, 0)
    version = json.loads(recent).get("model_version") if recent else None
    record = set_baseline(
        client,
        settings,
        counters,
        model_version=version,
        source=f"mlmon baseline set --window {window}",
    )
    click.echo(f"baseline set from {counters['predictions']} predictions of the last {window}")
    click.echo(json.dumps({k: v for k, v in record.items() if k != "counters"}))


@baseline.command("show")
def baseline_show() -> None:
    """The stored baseline and what it says (JSON); per feature, its count of values and
    of fine bins rather than every bin."""
    settings = settings_or_exit()
    record = get_baseline(redis_or_exit(settings), settings)
    if record is None:
        fail(
            "no baseline yet: `mlmon baseline set`, or wait for a new model's first predictions", 1
        )
    counters = record["counters"]
    features = {
        name: {"values": sum(bins.values()), "fine_bins": len(bins)}
        for name, bins in sorted(feature_histograms(counters).items())
    }
    shown = {k: v for k, v in counters.items() if not k.startswith(FEATURE_PREFIX)}
    click.echo(
        json.dumps(
            record | {"counters": shown, "features": features, "metrics": summarize(counters)},
            indent=2,
        )
    )
