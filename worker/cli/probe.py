"""`mlmon probe URL`: the healthcheck of the exporter and dashboard containers.

An HTTP GET in Python, since a slim image has no curl or wget: exit 0 on a 2xx answer,
else 1 with one line. Only the standard library is imported, as it runs every 30 s.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

import click


@click.command()
@click.argument("url")
@click.option("--timeout-s", default=5.0, show_default=True, type=click.FloatRange(0.1, 60))
def probe(url: str, timeout_s: float) -> None:
    """Exit 0 when URL answers a GET with 2xx; else 1 and one line saying why."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise click.UsageError("URL must start with http:// or https://")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310  (checked)
            code = response.status
    except urllib.error.HTTPError as e:
        code = e.code
    except (urllib.error.URLError, OSError) as e:
        click.echo(f"{url}: no answer: {getattr(e, 'reason', e)}", err=True)
        raise SystemExit(1) from None
    if not 200 <= code < 300:
        click.echo(f"{url}: HTTP {code}", err=True)
        raise SystemExit(1)
    click.echo(f"ok: {url} answered {code}")
