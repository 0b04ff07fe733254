"""Retraining: the gate at each boundary, the RQ job end to end, the registry's safety."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import MLMON, run_mlmon
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from producer_sdk import BacktestCompleted, Publisher
from worker.local.demo_traffic import label_for_score
from worker.retraining.gate import count_rows, finish_run
from worker.retraining.registry import ModelIntegrityError, ModelRegistry
from worker.retraining.request import request_retrain, retraining_queue
from worker.settings import Settings, load_settings

FEATURES = ["momentum_20d_pct", "pe_ratio", "rsi_14"]


def write_training_csv(home: Path, rows: int, *, seed: int = 3) -> Path:
    """Labels that follow the features, so a model can learn something real."""
    rng = random.Random(seed)
    lines = [",".join([*FEATURES, "label"])]
    for _ in range(rows):
        momentum, pe, rsi = rng.gauss(0, 6), rng.uniform(5, 60), rng.uniform(10, 90)
        label = label_for_score(momentum / 6 + (50 - rsi) / 40 + rng.gauss(0, 0.3))
        lines.append(f"{momentum:.3f},{pe:.2f},{rsi:.2f},{label}")
    path = home / "data" / "ml_training_data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, str]:
    """The RQ job reads its settings from the environment, as a real RQ worker would."""
    for name in ("REDIS_URL", "MLMON_PREFIX", "MLMON_HOME", "MLMON_TIMEZONE"):
        monkeypatch.setenv(name, env[name])
    return env


def labelled(client: redis.Redis, settings: Settings, count: int) -> None:
    """At least `count` labelled rows in the training CSV, as the pipeline writes them."""
    path = settings.training_csv
    if not path.exists() or count_rows(path.read_text()) < count:
        write_training_csv(settings.home, count)


def run_jobs(client: redis.Redis, settings: Settings) -> None:
    queue = retraining_queue(client, settings)
    SimpleWorker([queue], connection=client, serializer=JSONSerializer).work(burst=True)


def reload(env: dict[str, str], **overrides: str) -> Settings:
    return load_settings(
        **{**{k: env[k] for k in ("REDIS_URL", "MLMON_PREFIX", "MLMON_HOME")}, **overrides}
    )


def test_samples_rule_refuses_below_and_accepts_at_the_minimum(
    client: redis.Redis, settings: Settings
) -> None:
    labelled(client, settings, 199)
    refused = request_retrain(client, settings, trigger="manual", reason="t")
    assert not refused.accepted
    assert refused.why == "samples: 199 new labelled rows, minimum 200"
    labelled(client, settings, 200)
    assert request_retrain(client, settings, trigger="manual", reason="t").accepted


def test_single_flight_refuses_even_with_force(client: redis.Redis, settings: Settings) -> None:
    labelled(client, settings, 500)
    first = request_retrain(client, settings, trigger="manual", reason="t")
    second = request_retrain(client, settings, trigger="manual", reason="t", force=True)
    assert first.accepted and not second.accepted
    assert second.why == f"single flight: job {first.job_id} is queued or running"
    assert len(retraining_queue(client, settings)) == 1
    assert finish_run(client, settings, job_id=str(first.job_id), completed=False, summary={})
    assert request_retrain(client, settings, trigger="manual", reason="t").accepted


def test_interval_rule_at_its_boundary_and_force_skips_it(
    client: redis.Redis, settings: Settings
) -> None:
    labelled(client, settings, 1_000)
    state = f"{settings.prefix}:retrain:state"
    interval_s = 24 * 3600
    client.hset(
        state, mapping={"last_run_at": int(time.time()) - interval_s + 60, "samples_at_last_run": 0}
    )
    refused = request_retrain(client, settings, trigger="backtest", reason="t")
    assert not refused.accepted and refused.why.startswith("interval: last run")
    assert refused.next_allowed_at == pytest.approx(time.time() + 60, abs=5)
    forced = request_retrain(client, settings, trigger="manual", reason="t", force=True)
    assert forced.accepted
    finish_run(client, settings, job_id=str(forced.job_id), completed=False, summary={})
    client.hset(state, "last_run_at", int(time.time()) - interval_s - 1)
    assert request_retrain(client, settings, trigger="backtest", reason="t").accepted


def test_daily_cap_at_its_boundary(client: redis.Redis, settings: Settings) -> None:
    labelled(client, settings, 1_000)
    runs = f"{settings.prefix}:retrain:runs"
    now = time.time()
    client.zadd(runs, {"a": now - 86_400 + 100, "b": now - 3_600, "c": now - 60})
    refused = request_retrain(client, settings, trigger="manual", reason="t", force=True)
    assert refused.why == "daily cap: 3 runs in the last 24 h, maximum 3"
    assert refused.next_allowed_at == pytest.approx(now + 100, abs=5)
    client.zadd(runs, {"a": now - 86_400 - 1})
    assert request_retrain(client, settings, trigger="manual", reason="t", force=True).accepted


def test_a_trigger_event_is_decided_once(client: redis.Redis, settings: Settings) -> None:
    labelled(client, settings, 1_000)
    first = request_retrain(client, settings, trigger="backtest", reason="t", trigger_event_id="e1")
    again = request_retrain(client, settings, trigger="backtest", reason="t", trigger_event_id="e1")
    assert first.accepted and again.why == "duplicate trigger event"
    assert client.xlen(f"{settings.prefix}:retrain:decisions") == 1


def test_a_burst_of_1000_triggers_from_several_consumers_enqueues_one_job(
    client: redis.Redis, settings: Settings, publisher: Publisher, env: dict[str, str]
) -> None:
    labelled(client, settings, 1_000)
    publisher.publish_many(
        [
            BacktestCompleted(backtest_id=f"bt{i}", n_trades=10, win_rate=0.5, total_return_pct=1.0)
            for i in range(1_000)
        ]
    )
    workers = [
        subprocess.Popen(
            [MLMON, "worker", "--burst", "--groups", "retrain", "--consumer", f"c{i}"],
            env={**env, "MLMON_BATCH_SIZE": "50"},
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
    threads = [
        threading.Thread(
            target=request_retrain,
            args=(redis.Redis.from_url(env["REDIS_URL"]), settings),
            kwargs={"trigger": "manual", "reason": "thread"},
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(retraining_queue(client, settings)) == 1
    decisions = client.xrange(f"{settings.prefix}:retrain:decisions")
    assert len(decisions) == 1_008
    assert sum(fields[b"accepted"] == b"1" for _, fields in decisions) == 1


def test_backtest_to_promoted_version_1_then_refused_for_interval(
    client: redis.Redis,
    settings: Settings,
    publisher: Publisher,
    job_env: dict[str, str],
    home: Path,
) -> None:
    write_training_csv(home, 800)
    labelled(client, settings, 300)
    publisher.backtest_completed(
        backtest_id="bt-1", n_trades=40, win_rate=0.55, total_return_pct=7.0
    )
    assert run_mlmon("worker", "--burst", "--groups", "retrain", env=job_env).returncode == 0
    run_jobs(client, settings)

    registry = ModelRegistry(client, settings)
    assert registry.live_version() == 1
    entry = registry.entry(1)
    assert entry is not None and entry["status"] == "live" and entry["trigger"] == "backtest"
    assert entry["metrics"]["macro_f1"] > 0.5  # the labels follow the features
    assert set(entry["metrics"]["recall"]) == {"strong_buy", "buy", "watch", "avoid"}
    model_path = home / "models" / "verdict_model.pkl"
    assert hashlib.sha256(model_path.read_bytes()).hexdigest() == entry["sha256"]
    metadata = json.loads((home / "models" / "verdict_model.json").read_text())
    assert metadata["version"] == 1 and metadata["sha256"] == entry["sha256"]
    assert json.loads((home / "models" / "registry.json").read_text())["live_version"] == 1
    model, _ = registry.load_live()  # type: ignore[misc]
    assert model.predict([[8.0, 20.0, 20.0]])[0] == "strong_buy"
    history = (home / "logs" / "ml_retraining_history.txt").read_text().splitlines()
    assert " decision " in history[0] and 'trigger="backtest"' in history[0]
    assert (
        " run " in history[1] and 'outcome="promoted"' in history[1] and "version=1" in history[1]
    )
    kinds = [
        json.loads(f[b"event"])["type"]
        for _, f in client.xrange(f"{settings.prefix}:stream:models")
    ]
    assert kinds == ["model_trained", "model_promoted"]

    publisher.backtest_completed(
        backtest_id="bt-2", n_trades=40, win_rate=0.55, total_return_pct=7.0
    )
    assert run_mlmon("worker", "--burst", "--groups", "retrain", env=job_env).returncode == 0
    last = json.loads(run_mlmon("status", "--json", env=job_env).stdout)["retraining"]
    assert last["last_refusal"]["why"].startswith("interval")
    assert last["total_retrainings"] == 1 and last["live_version"] == 1
    assert len(retraining_queue(client, settings)) == 0


def test_a_worse_candidate_is_rejected_and_the_live_model_untouched(
    client: redis.Redis, settings: Settings, job_env: dict[str, str], home: Path
) -> None:
    write_training_csv(home, 600)
    labelled(client, settings, 300)
    assert request_retrain(client, settings, trigger="manual", reason="first").accepted
    run_jobs(client, settings)
    live_bytes = (home / "models" / "verdict_model.pkl").read_bytes()

    write_training_csv(home, 650)  # new rows: a forced run on the same rows changes nothing
    worse = reload(job_env, ML_TRAINER="trainers:constant_trainer")
    job_settings_env = {"ML_TRAINER": "trainers:constant_trainer"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in job_settings_env.items():
            patch.setenv(name, value)
        assert request_retrain(client, worse, trigger="manual", reason="worse", force=True).accepted
        run_jobs(client, worse)

    registry = ModelRegistry(client, settings)
    assert registry.live_version() == 1
    assert registry.entry(2)["status"] == "rejected"  # type: ignore[index]
    assert (home / "models" / "verdict_model.pkl").read_bytes() == live_bytes
    assert not (home / "models" / "backups").exists() or not any(
        (home / "models" / "backups").iterdir()
    )
    assert 'outcome="rejected"' in (home / "logs" / "ml_retraining_history.txt").read_text()


def test_a_job_that_raises_mid_training_changes_nothing_and_is_recorded(
    client: redis.Redis,
    settings: Settings,
    job_env: dict[str, str],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_training_csv(home, 400)
    labelled(client, settings, 300)
    assert request_retrain(client, settings, trigger="manual", reason="first").accepted
    run_jobs(client, settings)
    before = ModelRegistry(client, settings).entries()
    live_bytes = (home / "models" / "verdict_model.pkl").read_bytes()

    write_training_csv(home, 450)
    monkeypatch.setenv("ML_TRAINER", "trainers:failing_trainer")
    assert request_retrain(client, settings, trigger="manual", reason="crash", force=True).accepted
    run_jobs(client, settings)

    assert ModelRegistry(client, settings).entries() == before
    assert (home / "models" / "verdict_model.pkl").read_bytes() == live_bytes
    status = json.loads(run_mlmon("status", "--json", env=job_env).stdout)["retraining"]
    assert status["failed_runs"] == 1 and status["active_job"] is None
    assert "trainer crashed half-way" in status["last_retraining"]["error"]
    assert 'outcome="failed"' in (home / "logs" / "ml_retraining_history.txt").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is missing or empty"),
        ("a,b,label\n1,2,buy\n3,4,buy\n5,6,buy\n", "one class only"),
        ("a,b\n1,2\n", "broken header (0 'label' columns, expected one): move it aside"),
    ],
)
def test_unusable_training_data_fails_with_a_clear_reason(
    client: redis.Redis,
    settings: Settings,
    job_env: dict[str, str],
    home: Path,
    content: str | None,
    message: str,
) -> None:
    if content is not None:
        (home / "data").mkdir(parents=True)
        (home / "data" / "ml_training_data.csv").write_text(content)
    assert request_retrain(client, settings, trigger="manual", reason="t", force=True).accepted
    run_jobs(client, settings)
    last: dict[str, Any] = json.loads(client.hget(f"{settings.prefix}:retrain:state", "last_run"))  # type: ignore[arg-type]
    assert last["outcome"] == "failed"
    assert message in last["error"]
    assert ModelRegistry(client, settings).live_version() is None


def test_tampered_model_refused_and_rollback_restores_the_previous_version(
    client: redis.Redis,
    settings: Settings,
    job_env: dict[str, str],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ML_PROMOTION_TOLERANCE", "1")  # v2 is promoted whatever its score
    for rows, reason in ((500, "v1"), (550, "v2")):
        write_training_csv(home, rows)
        assert request_retrain(
            client, settings, trigger="manual", reason=reason, force=True
        ).accepted
        run_jobs(client, settings)
    registry = ModelRegistry(client, settings)
    assert registry.live_version() == 2
    v1 = registry.entry(1)
    assert (
        v1 is not None
        and v1["status"] == "previous"
        and v1["backup"].startswith("backups/verdict_model_")
    )

    model_path = home / "models" / "verdict_model.pkl"
    model_path.write_bytes(model_path.read_bytes() + b"tampered")
    with pytest.raises(ModelIntegrityError, match="does not match the registry"):
        registry.load_live()

    result = run_mlmon("models", "rollback", env=job_env)
    assert result.returncode == 0, result.stderr
    assert "version 1 is live again" in result.stdout
    assert registry.live_version() == 1
    assert hashlib.sha256(model_path.read_bytes()).hexdigest() == v1["sha256"]
    assert registry.entry(2)["status"] == "rolled_back"  # type: ignore[index]
    model, entry = registry.load_live()  # type: ignore[misc]
    assert entry["version"] == 1 and model.predict([[0.0, 20.0, 50.0]])[0] in {"buy", "watch"}
    listing = run_mlmon("models", "list", env=job_env).stdout
    assert "rolled_back" in listing and "live" in listing


def test_jobs_retry_transient_errors_and_rq_info_shows_the_queue(
    client: redis.Redis, settings: Settings, env: dict[str, str]
) -> None:
    labelled(client, settings, 300)
    decision = request_retrain(client, settings, trigger="manual", reason="t")
    [job] = retraining_queue(client, settings).get_jobs()
    assert job.id == decision.job_id
    assert job.retries_left == 3 and job.retry_intervals == [10, 60, 300]
    assert job.timeout == 1_800
    info = subprocess.run(
        [str(Path(MLMON).with_name("rq")), "info", "--url", env["REDIS_URL"], "--only-queues"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"{settings.prefix}-retraining" in info.stdout


def test_only_the_newest_backups_are_kept(
    client: redis.Redis, job_env: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_BACKUP_KEEP", "2")
    monkeypatch.setenv("ML_PROMOTION_TOLERANCE", "1")  # every run promoted
    settings = reload(job_env, ML_BACKUP_KEEP="2", ML_RETRAIN_MAX_PER_DAY="10")
    for rows in (300, 310, 320, 330):  # three promotions replace a live model: three backups
        write_training_csv(home, rows)  # new rows each time, or nothing would change
        assert request_retrain(client, settings, trigger="manual", reason="t", force=True).accepted
        run_jobs(client, settings)
    registry = ModelRegistry(client, settings)
    backups = sorted((home / "models" / "backups").iterdir())
    assert len(backups) == 2
    kept = {entry["backup"] for entry in registry.entries() if entry.get("backup")}
    assert kept == {f"backups/{path.name}" for path in backups}


def test_pipeline_rows_alone_train_version_1_from_a_clean_start(
    client: redis.Redis,
    settings: Settings,
    publisher: Publisher,
    job_env: dict[str, str],
    home: Path,
) -> None:
    write_training_csv(home, 3_000)  # the pipeline's own rows; no outcome ever seen
    publisher.backtest_completed(
        backtest_id="bt-1", n_trades=40, win_rate=0.55, total_return_pct=7.0
    )

    burst = run_mlmon("worker", "--burst", env=job_env)
    assert burst.returncode == 0, burst.stderr
    run_jobs(client, settings)

    registry = ModelRegistry(client, settings)
    assert registry.live_version() == 1
    assert registry.entry(1)["samples"] == 3_000  # type: ignore[index]
    status = json.loads(run_mlmon("status", "--json", env=job_env).stdout)["retraining"]
    assert status["new_labelled_rows"] == 0


def test_unchanged_data_records_no_change_and_appended_rows_count(
    client: redis.Redis, settings: Settings, job_env: dict[str, str], home: Path
) -> None:
    write_training_csv(home, 400)
    assert request_retrain(client, settings, trigger="manual", reason="v1", force=True).accepted
    run_jobs(client, settings)
    assert request_retrain(client, settings, trigger="manual", reason="same", force=True).accepted
    run_jobs(client, settings)

    registry = ModelRegistry(client, settings)
    assert [e["version"] for e in registry.entries()] == [1]
    state = f"{settings.prefix}:retrain:state"
    last: dict[str, Any] = json.loads(client.hget(state, "last_run"))  # type: ignore[arg-type]
    assert last["outcome"] == "no change" and last["version"] == 1
    assert 'outcome="no change"' in (home / "logs" / "ml_retraining_history.txt").read_text()

    rows = "momentum_20d_pct,rsi_14,label\n" + "1.0,30.0,buy\n-9.0,80.0,avoid\n" * 100
    appended = subprocess.run(
        [MLMON, "training-data", "append", "-"],
        input=rows,
        env=job_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert appended.returncode == 0, appended.stderr
    probe = request_retrain(client, settings, trigger="manual", reason="t", dry_run=True)
    assert probe.new_samples == 200
    assert request_retrain(client, settings, trigger="manual", reason="more", force=True).accepted
    run_jobs(client, settings)
    assert registry.entry(2)["samples"] == 600  # type: ignore[index]  # trained on every row


@pytest.mark.parametrize("damage", ["tamper", "delete"])
def test_a_broken_only_version_is_replaced_by_a_forced_retrain(
    client: redis.Redis, settings: Settings, job_env: dict[str, str], home: Path, damage: str
) -> None:
    write_training_csv(home, 400)
    assert request_retrain(client, settings, trigger="manual", reason="v1", force=True).accepted
    run_jobs(client, settings)
    model_path = home / "models" / "verdict_model.pkl"
    if damage == "tamper":
        model_path.write_bytes(model_path.read_bytes() + b"tampered")
    else:
        model_path.unlink()
    rollback = run_mlmon("models", "rollback", env=job_env)
    assert rollback.returncode != 0
    assert "mlmon retrain --force" in rollback.stdout + rollback.stderr

    # the same training data: no "no change" shortcut when the live file fails its check
    assert request_retrain(client, settings, trigger="manual", reason="fix", force=True).accepted
    run_jobs(client, settings)

    registry = ModelRegistry(client, settings)
    assert registry.live_version() == 2
    model, entry = registry.load_live()  # type: ignore[misc]
    assert entry["version"] == 2 and model.predict([[8.0, 20.0, 20.0]])[0] == "strong_buy"
    kinds = [
        json.loads(f[b"event"])["type"]
        for _, f in client.xrange(f"{settings.prefix}:stream:models")
    ]
    assert "live_model_unusable" in kinds


def test_a_worker_without_the_json_serializer_fails_the_job_visibly_and_frees_the_gate(
    client: redis.Redis, settings: Settings, job_env: dict[str, str], home: Path
) -> None:
    write_training_csv(home, 400)
    first = request_retrain(client, settings, trigger="manual", reason="t", force=True)
    queue = f"{settings.prefix}-retraining"
    plain = subprocess.run(
        [str(Path(MLMON).with_name("rq")), "worker", "--burst", "-u", job_env["REDIS_URL"], queue],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "DeserializationError" in plain.stderr

    again = request_retrain(client, settings, trigger="manual", reason="again", force=True)

    assert again.accepted, again.why  # not "single flight" until the job's timeout
    state = f"{settings.prefix}:retrain:state"
    last: dict[str, Any] = json.loads(client.hget(state, "last_run"))  # type: ignore[arg-type]
    assert last["outcome"] == "failed" and last["job_id"] == first.job_id
    assert "rq.serializers.JSONSerializer" in last["error"]
    kinds = [
        json.loads(f[b"event"])["type"]
        for _, f in client.xrange(f"{settings.prefix}:stream:models")
    ]
    assert kinds == ["retrain_failed"]
    assert not client.exists(f"rq:job:{first.job_id}")  # no stale run of it later
    run_jobs(client, settings)
    assert ModelRegistry(client, settings).live_version() == 1
