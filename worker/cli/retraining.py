"""`mlmon retrain`, `mlmon models ...` and `mlmon rq-worker`."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import Any, TextIO

import click

from worker.cli.common import EXIT_CONFIG, fail, redis_or_exit, settings_or_exit
from worker.keys import Keys
from worker.retraining.gate import Trigger
from worker.retraining.history import append_history
from worker.retraining.registry import ModelIntegrityError, ModelRegistry, RegistryError
from worker.retraining.request import request_retrain
from worker.retraining.training_rows import TrainingRowsError, append_training_rows

EXIT_REFUSED = 3


@click.group("training-data")
def training_data() -> None:
    """The training CSV: append the trading pipeline's labelled rows beside mlmon."""


@training_data.command("append")
@click.argument("source", type=click.File("r", encoding="utf-8"))
def training_data_append(source: TextIO) -> None:
    """Append the rows of a CSV with a header (`-` for stdin), under mlmon's lock."""
    settings = settings_or_exit()
    client = redis_or_exit(settings)
    rows = list(csv.DictReader(source))
    try:
        added = append_training_rows(client, settings, rows)
    except TrainingRowsError as e:
        fail(str(e), EXIT_CONFIG)
    click.echo(f"appended {added} labelled rows to {settings.training_csv}")


@click.command()
@click.option("--reason", required=True, help="Why, for the history and the registry.")
@click.option(
    "--force", is_flag=True, help="Skip the interval and sample minimums (never single flight)."
)
def retrain(reason: str, force: bool) -> None:
    """Ask the retraining gate for a run now; exit 3 when it refuses."""
    settings = settings_or_exit()
    client = redis_or_exit(settings)
    decision = request_retrain(client, settings, trigger=Trigger.MANUAL, reason=reason, force=force)
    if decision.accepted:
        click.echo(
            f"accepted: job {decision.job_id} queued on {Keys.of(settings).retraining_queue}"
        )
        return
    when = ""
    if decision.next_allowed_at is not None:
        next_at = datetime.fromtimestamp(decision.next_allowed_at, UTC)
        when = f"; next accepted at {next_at:%Y-%m-%d %H:%M:%S} UTC"
    click.echo(f"refused: {decision.why}{when}", err=True)
    raise SystemExit(EXIT_REFUSED)


@click.group()
def models() -> None:
    """The model registry: list versions, show one, roll back."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_list(as_json: bool) -> None:
    """Every version with its status and metrics."""
    settings = settings_or_exit()
    registry = ModelRegistry(redis_or_exit(settings), settings)
    entries = registry.entries()
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo(f"no versions of {registry.name} yet")
        return
    header = f"{'version':>7}  {'status':<12}{'trained at':<27}{'samples':>8}"
    click.echo(f"{header}{'accuracy':>10}{'macro F1':>10}  trigger")
    for entry in entries:
        metrics = entry.get("metrics") or {}
        click.echo(
            f"{entry['version']:>7}  {entry.get('status', ''):<12}{entry.get('trained_at', ''):<27}"
            f"{entry.get('samples', 0):>8}{_number(metrics.get('accuracy')):>10}"
            f"{_number(metrics.get('macro_f1')):>10}  {entry.get('trigger', '')}"
        )


@models.command("show")
@click.argument("version", type=int)
def models_show(version: int) -> None:
    """One version's registry entry (JSON)."""
    settings = settings_or_exit()
    entry = ModelRegistry(redis_or_exit(settings), settings).entry(version)
    if entry is None:
        fail(f"no version {version} in the registry; see `mlmon models list`", EXIT_CONFIG)
    click.echo(json.dumps(entry, indent=2, sort_keys=True))


@models.command("rollback")
@click.argument("version", type=int, required=False)
def models_rollback(version: int | None) -> None:
    """Make an earlier version live again (default: the one live before the current)."""
    settings = settings_or_exit()
    registry = ModelRegistry(redis_or_exit(settings), settings)
    current = registry.live_version()
    try:
        entry = registry.rollback(version)
    except (RegistryError, ModelIntegrityError) as e:
        fail(str(e), EXIT_CONFIG)
    registry.publish_event(
        "model_rolled_back", {"version": entry["version"], "from_version": current}
    )
    append_history(settings, "rollback", {"from_version": current, "version": entry["version"]})
    click.echo(f"version {entry['version']} is live again (was {current}); sha256 verified")


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"
