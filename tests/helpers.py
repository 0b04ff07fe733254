"""Test helpers: the `mlmon` entry point, waiting for a condition, reading a child's
output, event factories, a direct computation of the metrics written independently of the
worker's code, and the clean-up of RQ's keys of a test's queues."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import redis

from producer_sdk import Prediction, TradeOutcome, Verdict, VerdictSource
from worker.keys import Keys

MLMON = str(Path(sys.executable).with_name("mlmon"))
VERDICTS = [v.value for v in Verdict]


def run_mlmon(
    *args: str, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed `mlmon` entry point and capture its output."""
    return subprocess.run(
        [MLMON, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def status_json(env: dict[str, str]) -> dict[str, Any]:
    """`mlmon status --json`, parsed; the command must succeed."""
    result = run_mlmon("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def wait_until(
    condition: Callable[[], object],
    timeout_s: float = 60.0,
    *,
    poll_s: float = 0.05,
    what: str = "condition",
) -> None:
    """Poll `condition` until it is true; fail when `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"{what} not reached within {timeout_s:g} s")


class LineReader:
    """Collects the lines of a child's pipe in a thread, so that the pipe never fills up
    and a test can wait for a line (`wait_for`) while the child runs."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None, "the child's output must be a pipe"
        self.lines: list[str] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def matching(self, predicate: Callable[[str], bool]) -> list[str]:
        return [line for line in list(self.lines) if predicate(line)]

    def wait_for(
        self, predicate: Callable[[str], bool], count: int = 1, timeout_s: float = 60.0
    ) -> list[str]:
        """Wait until `count` lines satisfy `predicate`; returns them."""
        wait_until(
            lambda: len(self.matching(predicate)) >= count,
            timeout_s,
            what=f"{count} matching line(s) in the output",
        )
        return self.matching(predicate)

    def join(self) -> None:
        """Wait for the end of the output (the process has exited), close the pipe."""
        self._thread.join(timeout=10)
        self._stream.close()

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def delete_rq_keys(client: redis.Redis, prefix: str) -> None:
    """Delete what RQ keeps in Redis for the queues of `prefix`: the queues and their
    registries, their jobs (with results and executions) and the workers that served them.

    RQ lays out its own keys (`rq:queue:<prefix>-retraining`, `rq:job:<id>`,
    `rq:worker:<name>`...), outside the prefix, so deleting `<prefix>:*` misses them.
    A key is RQ's of this prefix when one of its `:` parts is one of these queue names,
    the id of a job enqueued on them, or the name of a worker serving them.
    """
    queues = set(Keys(prefix).rq_queues.values())
    rq_keys = [key.decode() for key in client.scan_iter(match="rq:*", count=1000)]
    ours = set(queues)
    for key in rq_keys:
        # a job's own hash names its queue (`origin`), a worker's the queues it serves
        kind, _, name = key.removeprefix("rq:").partition(":")
        if kind not in {"job", "worker"} or ":" in name or client.type(key) != b"hash":
            continue
        field = "origin" if kind == "job" else "queues"
        if queues & set((client.hget(key, field) or b"").decode().split(",")):
            ours.add(name)
    doomed = [key for key in rq_keys if ours & set(key.split(":")[1:])]
    for start in range(0, len(doomed), 1000):
        client.delete(*doomed[start : start + 1000])
    # the registries of every queue and every worker
    client.srem("rq:queues", *(f"rq:queue:{queue}" for queue in queues))
    workers = [key for key in doomed if key.startswith("rq:worker:")]
    if workers:
        client.srem("rq:workers", *workers)


def make_prediction(**overrides: Any) -> Prediction:
    fields: dict[str, Any] = {
        "ticker": "RELIANCE.NS",
        "ml_verdict": "buy",
        "ml_confidence": 0.8,
        "rule_verdict": "watch",
        "final_verdict": "buy",
        "verdict_source": "ml",
    }
    fields.update(overrides)
    return Prediction(**fields)


def random_predictions(
    count: int,
    *,
    seed: int = 1,
    now: datetime | None = None,
    spread: timedelta = timedelta(minutes=30),
) -> list[Prediction]:
    """Varied predictions, some without ML, all within `spread` before `now`."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    out = []
    for _ in range(count):
        rule = rng.choice(VERDICTS)
        ml = rng.choice([*VERDICTS, None])
        confidence = None if ml is None else rng.choice([0.0, 1.0, round(rng.random(), 6)])
        source = "ml" if ml is not None and rng.random() < 0.7 else "rule"
        out.append(
            Prediction(
                ticker=rng.choice(["RELIANCE.NS", "TCS.BO", "INFY.NS", "AAPL", "M&M.NS"]),
                ts=now - spread * rng.random(),
                ml_verdict=ml,
                ml_confidence=confidence,
                rule_verdict=rule,
                final_verdict=ml if source == "ml" else rule,
                verdict_source=source,
                features={"rsi": rng.uniform(0, 100)} if rng.random() < 0.3 else None,
            )
        )
    return out


def profit_outcomes(predictions: list[Prediction]) -> list[TradeOutcome]:
    """A 1 % profit for every fourth prediction, joined to it by id."""
    return [
        TradeOutcome(
            prediction_id=p.event_id,
            ticker=p.ticker,
            prediction_date=p.ts.date(),
            actual_outcome="profit",
            pnl_pct=1.0,
            holding_days=1,
        )
        for p in predictions[::4]
    ]


def expected_metrics(predictions: list[Prediction]) -> dict[str, Any]:
    """What `mlmon status --json` must say, computed straight from the events."""
    total = len(predictions)
    with_ml = [p for p in predictions if p.ml_verdict is not None]
    confidences = [p.ml_confidence for p in predictions if p.ml_confidence is not None]
    agreed = sum(1 for p in with_ml if p.ml_verdict == p.rule_verdict)
    histogram = [0] * 10
    for c in confidences:
        histogram[min(9, int(c * 10))] += 1
    return {
        "total_predictions": total,
        "ml_usage_rate": sum(p.verdict_source is VerdictSource.ML for p in predictions) / total,
        # nothing to divide is None, as in `mlmon status`, not a division by zero
        "agreement_rate": agreed / len(with_ml) if with_ml else None,
        "disagreement_rate": (len(with_ml) - agreed) / len(with_ml) if with_ml else None,
        "avg_ml_confidence": sum(confidences) / len(confidences) if confidences else None,
        "verdict_distribution": {
            "final": _counts(p.final_verdict.value for p in predictions),
            "ml": _counts(p.ml_verdict.value for p in with_ml if p.ml_verdict),
            "rule": _counts(p.rule_verdict.value for p in predictions),
        },
        "confidence_histogram": histogram,
    }


def _counts(values: Any) -> dict[str, int]:
    counter = Counter(values)
    return {v: counter.get(v, 0) for v in VERDICTS}


def jsonl_ids(path: Path) -> list[str]:
    with path.open() as f:
        return [json.loads(line)["event_id"] for line in f]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def log_files(home: Path) -> tuple[list[Path], list[Path]]:
    directory = home / "logs" / "ml_predictions"  # and a folder per partition in it
    return sorted(directory.glob("**/*.jsonl")), sorted(directory.glob("**/*.csv"))


def assert_exactly_once(
    home: Path, env: dict[str, str], predictions: list[Prediction]
) -> dict[str, Any]:
    """Each prediction once in the JSONL and the CSV, and counted once; returns the status."""
    jsonl_paths, csv_paths = log_files(home)
    want = sorted(p.event_id for p in predictions)
    assert sorted(i for path in jsonl_paths for i in jsonl_ids(path)) == want
    assert sorted(r["event_id"] for path in csv_paths for r in csv_rows(path)) == want
    status: dict[str, Any] = json.loads(run_mlmon("status", "--json", env=env).stdout)
    expected = expected_metrics(predictions)
    assert status["total_predictions"] == expected["total_predictions"]
    assert status["verdict_distribution"] == expected["verdict_distribution"]
    return status
