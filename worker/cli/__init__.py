"""The `mlmon` command: one module per command family, imported only when it runs."""

from worker.cli.app import cli, main

__all__ = ["cli", "main"]
