"""Test helpers: the `mlmon` entry point, event factories, and a direct computation of
the metrics written independently of the worker's code."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from producer_sdk import Prediction, Verdict, VerdictSource

MLMON = str(Path(sys.executable).with_name("mlmon"))
VERDICTS = [v.value for v in Verdict]


def run_mlmon(
    *args: str, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed `mlmon` entry point and capture its output."""
    return subprocess.run(
        [MLMON, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


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
        "agreement_rate": agreed / len(with_ml),
        "disagreement_rate": (len(with_ml) - agreed) / len(with_ml),
        "avg_ml_confidence": sum(confidences) / len(confidences),
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
    directory = home / "logs" / "ml_predictions"
    return sorted(directory.glob("*.jsonl")), sorted(directory.glob("*.csv"))


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
