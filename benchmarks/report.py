"""The results as a markdown table (stdout) and as `benchmarks/results.json`."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from benchmarks.harness import Row, Sizes


def markdown_table(rows: list[Row]) -> str:
    """Rows grouped by section; a floor's verdict in the last column."""
    lines = ["| # | measurement | result | floor | verdict |", "|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: r.section):
        verdict = {True: "pass", False: "**miss**", None: ""}[row.passed]
        cells = (str(row.section), row.measurement, row.result, row.floor, verdict)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def results_json(
    args: argparse.Namespace,
    *,
    facts: dict[str, Any],
    sizes: Sizes,
    elapsed_s: float,
    other_cpu_s: dict[str, float],
    rows: list[Row],
    markdown: str,
) -> str:
    """The content of `benchmarks/results.json`: the environment, what ran, every row."""
    results = {
        "environment": facts,
        "run": {
            "quick": args.quick,
            "sections": args.sections,
            "elapsed_s": round(elapsed_s, 1),
        },
        "sizes": asdict(sizes),
        "other_processes_cpu_s": other_cpu_s,
        "rows": [asdict(row) for row in sorted(rows, key=lambda r: r.section)],
        "markdown": markdown,
    }
    return json.dumps(results, indent=2) + "\n"
