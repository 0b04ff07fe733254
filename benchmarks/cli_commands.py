"""Section 8: whole `mlmon` commands as a user (or the compose healthcheck) runs them,
interpreter start and imports included, against an anchor: a bare Python importing what
every mlmon command needs (redis, pydantic, structlog).

A command's wall time depends on the machine as much as on mlmon; its difference to the
anchor, measured in the same minute, is what mlmon's own imports and work add. The runs of
the commands are interleaved (and their order rotated each round) so that whatever else
the machine does hits every command alike.
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.harness import MLMON, Bench, BenchmarkError, floor_verdict
from benchmarks.traffic import Traffic, publish_load
from benchmarks.worker_runs import check_run, forget_data_set, run_workers, worker_env

SECTION = 8
OVER_ANCHOR_FLOOR_MS = 150.0
COMMAND_TIMEOUT_S = 60.0
ANCHOR_IMPORTS = "import redis, pydantic, structlog"


@dataclass(frozen=True)
class Command:
    """A command line to time, the exit codes that count as working, whether the floor
    (at most OVER_ANCHOR_FLOOR_MS more than the anchor) applies, and whether it reads Redis."""

    label: str
    argv: tuple[str, ...]
    exit_codes: frozenset[int] = frozenset({0})
    floored: bool = False
    reads_redis: bool = True


ANCHOR = Command(
    f'anchor: `python -c "{ANCHOR_IMPORTS}"`',
    (sys.executable, "-c", ANCHOR_IMPORTS),
    reads_redis=False,
)
STATUS = Command("`mlmon status --json`", (str(MLMON), "status", "--json"), floored=True)
HEALTH = Command(
    "`mlmon health` (exit 1: no consumer is live)",
    (str(MLMON), "health"),
    exit_codes=frozenset({0, 1}),
    floored=True,
)
HELP = Command("`mlmon --help`", (str(MLMON), "--help"), reads_redis=False)
COMMANDS = (ANCHOR, STATUS, HEALTH, HELP)


def bench_cli(bench: Bench) -> None:
    """Median wall time of each command, and its difference to the anchor's."""
    count = bench.sizes.cli_events
    prefix, home = bench.sub("cli"), bench.tmp / "home-cli"
    bench.say(f"cli: {count:,} predictions through `metrics`, for status to show")
    publish_load(bench, prefix, count, Traffic(seed=8, feature_share=0.3))
    env = worker_env(bench, prefix, home)
    run_workers(bench, env, "metrics", 1)
    check_run(bench, prefix, home, "metrics", count)
    compile_bytecode()
    # one untimed round first: it checks every command works and warms the file cache
    outputs = {command: run_command(command, env)[1] for command in COMMANDS}
    shown = json.loads(outputs[STATUS])["total_predictions"]
    if shown != count:
        raise BenchmarkError(f"`mlmon status --json` shows {shown:,} predictions, not {count:,}")
    repeats = bench.sizes.cli_repeats
    bench.say(f"cli: {len(COMMANDS)} commands, {repeats} interleaved rounds")
    times_ms = time_interleaved(COMMANDS, env, repeats)
    medians_ms = {command: statistics.median(times_ms[command]) for command in COMMANDS}
    _rows(bench, medians_ms, repeats, count)
    forget_data_set(bench, prefix, home)


def compile_bytecode() -> None:
    """Compile mlmon's own modules, as pip does for every installed package (the anchor's
    included): with PYTHONDONTWRITEBYTECODE set, an editable install or a `--at REF`
    snapshot would otherwise compile its sources again at every command."""
    for package in ("worker", "producer_sdk"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise BenchmarkError(f"cannot find the {package} package to compile")
        for location in spec.submodule_search_locations:
            if not compileall.compile_dir(location, quiet=1):
                raise BenchmarkError(f"{location} does not compile")


def run_command(command: Command, env: dict[str, str]) -> tuple[float, bytes]:
    """Milliseconds from start to exit, and the output; an unexpected exit code fails."""
    started = time.perf_counter()
    done = subprocess.run(
        command.argv, env=env, capture_output=True, check=False, timeout=COMMAND_TIMEOUT_S
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    if done.returncode not in command.exit_codes:
        tail = done.stderr.decode(errors="replace")[-2_000:]
        raise BenchmarkError(f"{command.label} exited {done.returncode}:\n{tail}")
    return elapsed_ms, done.stdout


def time_interleaved(
    commands: Sequence[Command], env: dict[str, str], repeats: int
) -> dict[Command, list[float]]:
    """`repeats` rounds that run every command once, each round in an order rotated by
    one, so no command always runs first or right after the same other one."""
    times_ms: dict[Command, list[float]] = {command: [] for command in commands}
    for round_index in range(repeats):
        shift = round_index % len(commands)
        for command in [*commands[shift:], *commands[:shift]]:
            times_ms[command].append(run_command(command, env)[0])
    return times_ms


def _rows(bench: Bench, medians_ms: dict[Command, float], repeats: int, count: int) -> None:
    anchor_ms = medians_ms[ANCHOR]
    bench.add(
        SECTION,
        f"{ANCHOR.label}, whole command (median of {repeats}, interleaved with the ones below)",
        f"{anchor_ms:,.0f} ms",
        value=anchor_ms,
        unit="ms",
    )
    for command in COMMANDS:
        if command is ANCHOR:
            continue
        over_ms = medians_ms[command] - anchor_ms
        bench.say(f"  {command.label}: {medians_ms[command]:,.0f} ms, anchor {over_ms:+,.0f} ms")
        floored = command.floored
        against = f" against {count:,} events" if command.reads_redis else ""
        bench.add(
            SECTION,
            f"{command.label}, whole command{against} (median of {repeats})",
            f"{medians_ms[command]:,.0f} ms (anchor {over_ms:+,.0f} ms)",
            value=over_ms,
            unit="ms over the anchor",
            floor=f"<= anchor + {OVER_ANCHOR_FLOOR_MS:g} ms" if floored else "",
            passed=floor_verdict(over_ms, OVER_ANCHOR_FLOOR_MS, at_most=True) if floored else None,
        )
