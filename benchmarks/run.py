"""Benchmarks of mlmon against a real Redis, with the floors the project promises.

    .venv/bin/python benchmarks/run.py                  # full run, about 10 min on 2 cores
    .venv/bin/python benchmarks/run.py --quick          # smaller sizes: a smoke check
    .venv/bin/python benchmarks/run.py --only consumer  # one section (or a comma list)
    .venv/bin/python benchmarks/run.py --at HEAD        # a committed snapshot of the code

By default it starts a private `redis-server` (no persistence) on a free port; with
`--redis-url` it uses that server instead. Everything runs under a unique key prefix and a
temporary MLMON_HOME, both removed at the end. Workers run as the real `mlmon` entry point
in subprocesses. Progress goes to stderr, a markdown table to stdout; a full run writes
`benchmarks/results.json` (other runs only with `--output`).

Without `--at` it measures the working tree. With `--at REF` it measures `worker/` and
`producer_sdk/` as committed at REF: they are exported to a temporary folder put first on
PYTHONPATH (for this process, re-executed, and every subprocess), so edits in progress in
the working tree cannot change or break a run.

Exit status 1 when a section failed or a worker lost or duplicated events; a missed floor
is reported in the table, not in the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os

# RQ's keys where the benchmark's clean-up looks for them (`rq:*`), here and in every
# `mlmon` child; set before anything imports rq
os.environ.setdefault("RQ_KEY_PREFIX", "rq")
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results.json"
SECTIONS = (
    "publish",
    "consumer",
    "rq",
    "ceiling",
    "status",
    "storage",
    "retraining",
    "cli",
    "soak",
    "cluster",
)
# storage (6) runs before status (5) so that its 10,000-event memory rows come before the
# ones status adds for its large load; rq and ceiling need the consumer section's numbers
RUN_ORDER = (
    "publish",
    "consumer",
    "rq",
    "ceiling",
    "storage",
    "status",
    "cli",
    "retraining",
    "soak",
    "cluster",
)
SNAPSHOT_ENV = "MLMON_BENCH_SNAPSHOT"
CODE_PACKAGES = ("worker", "producer_sdk")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join((__doc__ or "").split("\n")[1:]),
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke check)")
    parser.add_argument(
        "--only", metavar="SECTION", help=f"comma-separated sections: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--redis-url", help="use this Redis instead of a private redis-server")
    parser.add_argument("--at", metavar="REF", help="measure the code as committed at REF")
    parser.add_argument(
        "--output",
        type=Path,
        help="results JSON (default: benchmarks/results.json for a full run, none otherwise)",
    )
    args = parser.parse_args(argv)
    chosen = [n.strip() for n in (args.only or ",".join(SECTIONS)).split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        parser.error(
            f"unknown section(s) {', '.join(unknown) or '(none)'}; known: {', '.join(SECTIONS)}"
        )
    args.sections = [name for name in RUN_ORDER if name in chosen]
    if args.output is None and not args.quick and args.only is None:
        args.output = DEFAULT_OUTPUT
    return args


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def run_on_snapshot(ref: str, argv: Sequence[str]) -> int:
    """Export the packages at `ref`, run this script again with them first on the path,
    remove them afterwards; the child's exit status."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    target = Path(tempfile.mkdtemp(prefix="mlmon-bench-code-"))
    try:
        archive = subprocess.run(
            ["git", "archive", commit, *CODE_PACKAGES], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        path = os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, SNAPSHOT_ENV: f"{commit}:{target}"}
        print(f"measuring {', '.join(CODE_PACKAGES)} as committed at {commit}", file=sys.stderr)
        command = [sys.executable, str(Path(__file__).resolve()), *argv]
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        shutil.rmtree(target, ignore_errors=True)


def code_measured() -> tuple[dict[str, Any], Path | None]:
    """Which code this run measures, and the snapshot folder it must be imported from."""
    snapshot = os.environ.get(SNAPSHOT_ENV)
    if snapshot:
        commit, _, folder = snapshot.partition(":")
        return {"source": "commit snapshot", "commit": commit}, Path(folder)
    uncommitted = _git("status", "--porcelain", "--", *CODE_PACKAGES).splitlines()
    return {
        "source": "working tree",
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted": uncommitted,
    }, None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(arguments)
    if args.at and SNAPSHOT_ENV not in os.environ:
        return run_on_snapshot(args.at, arguments)
    args.code_measured, snapshot = code_measured()
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # for `benchmarks.suite`, and RQ's `benchmarks.rq_jobs`
    suite = importlib.import_module("benchmarks.suite")
    worker = importlib.import_module("worker")
    if snapshot is not None and not Path(worker.__file__ or "").is_relative_to(snapshot):
        print(f"the snapshot is not in effect: worker from {worker.__file__}", file=sys.stderr)
        return 2
    code: int = suite.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
