"""`mlmon schema`: the wire contract for producers in other languages."""

from __future__ import annotations

import json

import click

from producer_sdk import event_json_schemas
from worker.cli.common import EXIT_CONFIG, fail


@click.command()
@click.option("--type", "event_type", help="Only this event type (e.g. prediction).")
def schema(event_type: str | None) -> None:
    """Print the JSON Schema of every event, for producers in other languages."""
    schemas = event_json_schemas()
    if event_type is not None:
        if event_type not in schemas:
            fail(f"unknown event type {event_type!r}; known: {', '.join(schemas)}", EXIT_CONFIG)
        schemas = {event_type: schemas[event_type]}
    click.echo(json.dumps(schemas, indent=2))
