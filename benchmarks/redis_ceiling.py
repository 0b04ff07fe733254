"""Section 4: what Redis itself can take (redis-benchmark XADD on the same server), and
mlmon's consumer rate as a share of it."""

from __future__ import annotations

import shutil
import subprocess

from benchmarks.harness import Bench, floor_verdict, rate_text
from benchmarks.worker_runs import EVERY_GROUP
from producer_sdk import Prediction

SECTION = 4
# shares of unpipelined XADD: (fact, label, floor)
SHARE_FLOORS = (
    (f"per_s:{EVERY_GROUP}", "`mlmon worker --burst`, every group", 0.25),
    ("per_s:metrics", "the metrics group alone, 1 consumer", 0.50),
)


def realistic_event_json() -> str:
    """A prediction as the workers receive it, without features."""
    return Prediction(
        ticker="BAJAJ-AUTO.NS",
        ml_verdict="strong_buy",
        ml_confidence=0.8731,
        rule_verdict="buy",
        final_verdict="strong_buy",
        verdict_source="ml",
        model_version="v3",
    ).model_dump_json()


def bench_ceiling(bench: Bench) -> None:
    """redis-benchmark XADD on the same server: what Redis itself can take."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        bench.add(SECTION, "redis-benchmark XADD", "redis-benchmark not on the PATH")
        return
    key = f"{bench.sub('ceil')}:stream"
    payload = realistic_event_json()
    ours_per_s = bench.facts.get("all_groups_steady_per_s")
    for label, extra in (("unpipelined", []), ("pipelined -P 64", ["-P", "64"])):
        requests = bench.sizes.ceiling_requests
        bench.say(f"ceiling: redis-benchmark XADD, 50 clients, {label}, {requests:,} requests")
        command = [binary, "-u", bench.url, "-n", str(requests), "-c", "50", *extra, "--csv"]
        output = subprocess.run(
            [*command, "XADD", key, "*", "event", payload],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        bench.client.unlink(key)
        per_s = benchmark_rps(output)
        bench.add(
            SECTION,
            f"redis-benchmark XADD of a {len(payload)}-byte event, 50 clients, {label}",
            rate_text(per_s),
            value=per_s,
            unit="XADD/s",
        )
        share = None if ours_per_s is None else ours_per_s / per_s
        bench.add(
            SECTION,
            f"mlmon all groups, 1 consumer (excl. start-up), as a share of XADD {label}",
            "n/a (run the consumer section)" if share is None else f"{share:.1%}",
            value=share,
            unit="fraction",
        )
        if label == "unpipelined":
            _share_rows(bench, per_s)


def _share_rows(bench: Bench, xadd_per_s: float) -> None:
    """The consumer section's wall-clock rates (start-up included) as shares of XADD."""
    for fact, label, floor in SHARE_FLOORS:
        ours = bench.facts.get(fact)
        share = None if ours is None else ours / xadd_per_s
        bench.add(
            SECTION,
            f"{label} (wall clock), as a share of XADD unpipelined",
            "n/a (run the consumer section)" if share is None else f"{share:.1%}",
            value=share,
            unit="fraction",
            floor=f">= {floor:.0%}",
            passed=floor_verdict(share, floor, at_most=False),
        )


def benchmark_rps(csv_output: str) -> float:
    """The rps column of redis-benchmark --csv; the test name may hold unescaped quotes."""
    last = csv_output.strip().splitlines()[-1]
    columns = last.rsplit(",", 7)
    return float(columns[1].strip('"'))
