"""The `mlmon` command group: each subcommand's module is imported only when it runs.

`mlmon status` and `mlmon health` (the compose healthcheck, every 30 s) then pay for the
imports they use, not for scikit-learn, scipy or rq.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import NamedTuple

import click

from worker.rq_keys import scope_rq_keys


class LazyCommand(NamedTuple):
    target: str  # "module:attribute"
    summary: str  # the line `mlmon --help` shows, without importing the module


COMMANDS: dict[str, LazyCommand] = {
    "worker": LazyCommand("worker.cli.consume:worker", "Run consumer groups on the streams."),
    "status": LazyCommand("worker.cli.status:status", "Show the monitoring dashboard."),
    "health": LazyCommand(
        "worker.cli.status:health", "Exit 0 when every group has a live consumer and little lag."
    ),
    "demo": LazyCommand(
        "worker.cli.demo:demo", "Publish synthetic traffic, process it, show the dashboard."
    ),
    "schema": LazyCommand("worker.cli.schema:schema", "Print the JSON Schema of every event."),
    "acl": LazyCommand("worker.cli.deploy:acl", "Print least-privilege ACL users."),
    "up": LazyCommand("worker.cli.deploy:up", "Run every group and RQ worker, supervised."),
    "config": LazyCommand("worker.cli.deploy:config", "Print the settings in effect."),
    "alerts": LazyCommand("worker.cli.alerts:alerts", "Recent alerts; test the channels."),
    "dlq": LazyCommand("worker.cli.dlq:dlq", "Inspect, replay and purge dead letters."),
    "spool": LazyCommand("worker.cli.dlq:spool", "The producer's local spool."),
    "retrain": LazyCommand("worker.cli.retraining:retrain", "Ask the gate for a retrain."),
    "training-data": LazyCommand(
        "worker.cli.retraining:training_data", "Append the pipeline's labelled rows safely."
    ),
    "models": LazyCommand("worker.cli.retraining:models", "List, show and roll back models."),
    "rq-worker": LazyCommand("worker.cli.rq:rq_worker", "Run an RQ worker for mlmon's queues."),
    "baseline": LazyCommand("worker.cli.drift:baseline", "Set or show the drift baseline."),
    "exporter": LazyCommand("worker.cli.web:exporter", "Serve Prometheus metrics."),
    "dashboard": LazyCommand("worker.cli.web:dashboard", "Serve the web dashboard."),
    "probe": LazyCommand("worker.cli.probe:probe", "Exit 0 when a URL answers 2xx."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        module_name, _, attribute = lazy.target.partition(":")
        command = getattr(import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{lazy.target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name].summary) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlmon")
def cli() -> None:
    """mlmon: monitoring, feedback and retraining for a trading pipeline's ML verdicts."""


def main() -> None:
    scope_rq_keys(os.environ)  # before any command imports rq
    cli(prog_name="mlmon")
