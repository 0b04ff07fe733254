"""Section 2: predictions per second through `mlmon worker --burst`, per consumer group
and together, with one and two consumers per group; what each costs Redis per event."""

from __future__ import annotations

from benchmarks.harness import Bench, floor_verdict, mib, rate_text
from benchmarks.redis_cost import CpuSample, family_bytes, mark_groups
from benchmarks.traffic import Traffic, publish_load
from benchmarks.worker_runs import (
    EVERY_GROUP,
    LOGS_AND_METRICS,
    PREDICTION_GROUPS,
    STARTUP_REPEATS,
    WorkerRun,
    check_run,
    forget_data_set,
    measure_startup_s,
    reset_consumers,
    run_workers,
    worker_env,
)
from worker.settings import load_settings

SECTION = 2
ALL_GROUPS_FLOOR_PER_S = 20_000.0
JOINED_CPU_FLOOR_US = 35.0  # logs + metrics + feedback, Redis CPU per prediction
MARK_FLOOR_BYTES = 40.0  # idempotency marks per event per group
JOINED_GROUPS = ("logs", "metrics", "feedback")


def bench_consumers(bench: Bench) -> None:
    """Predictions per second through `mlmon worker --burst`, per group and together."""
    count = bench.sizes.consumer_events
    prefix, home = bench.sub("cons"), bench.tmp / "home-cons"
    startup_s = measure_startup_s()
    bench.facts["startup_s"] = startup_s
    bench.add(
        SECTION,
        f"`mlmon --help` start-up (median of {STARTUP_REPEATS}), subtracted below",
        f"{startup_s * 1000:,.0f} ms",
        value=startup_s * 1000,
        unit="ms",
    )
    bench.say(f"consumer: publishing {count:,} predictions")
    publish_load(bench, prefix, count, Traffic(seed=2, feature_share=0.3))
    env = worker_env(bench, prefix, home)
    for groups in consumer_runs():
        for consumers in (1,) if groups == EVERY_GROUP else (1, 2):
            reset_consumers(bench, prefix, home)
            bench.say(f"consumer: --groups {groups}, {consumers} consumer(s), {count:,} events")
            before = CpuSample.take(bench.client)
            run = run_workers(bench, env, groups, consumers)
            after = CpuSample.take(bench.client)
            check_run(bench, prefix, home, groups, count)
            _consumer_row(bench, groups, consumers, count, run)
            if consumers == 1:
                _cpu_row(bench, groups, before.per_event_us(after, count))
                _step_row(bench, groups, before.mean_script_ms(after))
        if groups == EVERY_GROUP:
            _memory_rows(bench, prefix, count)
    _joined_cpu_row(bench)
    forget_data_set(bench, prefix, home)


def _cpu_row(bench: Bench, groups: str, per_event_us: tuple[float, float]) -> None:
    process_us, scripts_us = per_event_us
    bench.facts[f"cpu_us:{groups}"] = process_us
    bench.add(
        SECTION,
        f"Redis CPU per prediction, `{groups}`, 1 consumer per group "
        "(server process; in brackets its scripts, from INFO commandstats)",
        f"{process_us:,.1f} us ({scripts_us:,.1f} us in scripts)",
        value=process_us,
        unit="us",
    )


def _step_row(bench: Bench, groups: str, mean_ms: float) -> None:
    """A batch's Lua step runs alone on the server: how long producers may wait on it."""
    bench.add(
        SECTION,
        f"mean Lua step per batch, `{groups}`, batches of up to {load_settings().batch_size:,} "
        "(MLMON_BATCH_SIZE; Redis runs nothing else meanwhile)",
        f"{mean_ms:,.1f} ms",
        value=mean_ms,
        unit="ms",
    )


def _joined_cpu_row(bench: Bench) -> None:
    """The three groups that do work per prediction, each measured alone, added."""
    parts = [bench.facts.get(f"cpu_us:{group}") for group in JOINED_GROUPS]
    if any(part is None for part in parts):
        return
    total_us = sum(part for part in parts if part is not None)
    bench.add(
        SECTION,
        f"Redis CPU per prediction, {' + '.join(JOINED_GROUPS)} (each alone, added)",
        f"{total_us:,.1f} us",
        value=total_us,
        unit="us",
        floor=f"<= {JOINED_CPU_FLOOR_US:g} us",
        passed=floor_verdict(total_us, JOINED_CPU_FLOOR_US, at_most=True),
    )


def _memory_rows(bench: Bench, prefix: str, count: int) -> None:
    """Idempotency marks per event and group, and the feedback index per prediction,
    after every group has read `count` predictions."""
    groups = mark_groups(bench.client, prefix)
    marks_bytes = family_bytes(bench.client, prefix, "dedup")
    per_event = marks_bytes / count / max(groups, 1)
    bench.add(
        SECTION,
        f"Redis memory of idempotency marks per event per group ({groups} groups mark "
        f"predictions, {count:,} events)",
        f"{per_event:,.1f} B",
        value=per_event,
        unit="bytes",
        floor=f"<= {MARK_FLOOR_BYTES:g} B",
        passed=floor_verdict(per_event, MARK_FLOOR_BYTES, at_most=True),
    )
    index_bytes = family_bytes(bench.client, prefix, "feedback")
    bench.add(
        SECTION,
        f"Redis memory of the feedback index per prediction ({count:,} predictions)",
        f"{index_bytes / count:,.0f} B",
        value=index_bytes / count,
        unit="bytes",
    )


def consumer_runs() -> list[str]:
    """Each group that reads predictions alone, `logs,metrics` (the work the RQ job of
    section 3 mirrors), and every registered group, which `mlmon worker` runs by default
    (with one consumer only: its run is the longest, and the budget is 10 minutes)."""
    runs = [*PREDICTION_GROUPS, LOGS_AND_METRICS, EVERY_GROUP]
    return list(dict.fromkeys(runs))


def _consumer_row(bench: Bench, groups: str, consumers: int, count: int, run: WorkerRun) -> None:
    """Wall-clock rate (the floor applies to it) and the rate excluding start-up."""
    per_s = count / run.wall_s
    steady_per_s = count / max(run.wall_s - bench.facts["startup_s"], 1e-9)
    bench.say(f"  {run.wall_s:.2f} s: {per_s:,.0f} /s, {steady_per_s:,.0f} /s excluding start-up")
    if groups == LOGS_AND_METRICS and consumers == 1:
        bench.facts["all_groups_per_s"] = per_s
        bench.facts["all_groups_steady_per_s"] = steady_per_s
    if consumers == 1 and groups in (EVERY_GROUP, "metrics"):
        bench.facts[f"per_s:{groups}"] = per_s
    floored = consumers == 1 and groups in (LOGS_AND_METRICS, EVERY_GROUP)
    label = {LOGS_AND_METRICS: " (all groups, as briefed)", EVERY_GROUP: " (every group)"}
    bench.add(
        SECTION,
        f"`{groups}`{label.get(groups, '')}, {consumers} consumer"
        f"{'s' if consumers > 1 else ''} per group ({count:,} events)",
        f"{rate_text(per_s)} ({run.wall_s:.2f} s wall); {rate_text(steady_per_s)} excluding "
        f"start-up; worker CPU {run.cpu_s / count * 1e6:,.1f} us per prediction; "
        f"peak RSS {mib(run.peak_rss_bytes)}",
        value=per_s,
        unit="predictions/s",
        floor=f">= {ALL_GROUPS_FLOOR_PER_S:,.0f} /s" if floored else "",
        passed=floor_verdict(per_s, ALL_GROUPS_FLOOR_PER_S, at_most=False) if floored else None,
    )
