"""The `mlmon` command line: status views, and clear one-line errors with exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from helpers import MLMON, LineReader, random_predictions, run_mlmon

from producer_sdk import Publisher
from worker.local.redis_server import free_port


def test_unreachable_redis_url_is_one_line_and_non_zero(env: dict[str, str]) -> None:
    env = {**env, "REDIS_URL": f"redis://:s3cret@127.0.0.1:{free_port()}/0"}
    for command in (["status"], ["status", "--json"], ["worker", "--burst"]):
        result = run_mlmon(*command, env=env)
        assert result.returncode == 1, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("mlmon: cannot reach Redis at redis://:***@127.0.0.1:")
        assert "s3cret" not in result.stderr
        assert result.stdout == ""


def test_malformed_redis_url_and_bad_setting_stop_with_one_line(env: dict[str, str]) -> None:
    bad_scheme = run_mlmon("status", env={**env, "REDIS_URL": "http://localhost:6379"})
    assert bad_scheme.returncode == 2
    assert bad_scheme.stderr.strip() == (
        "mlmon: REDIS_URL='http://localhost:6379' is invalid: "
        "must start with redis://, rediss://, unix://, redis+sentinel://, "
        "rediss+sentinel://, redis+cluster:// or rediss+cluster://"
    )
    bad_zone = run_mlmon("worker", "--burst", env={**env, "MLMON_TIMEZONE": "Mars/Olympus"})
    assert bad_zone.returncode == 2
    assert bad_zone.stderr.strip().splitlines() == [
        "mlmon: MLMON_TIMEZONE='Mars/Olympus' is invalid: unknown time zone 'Mars/Olympus' "
        "(use an IANA name)"
    ]
    bad_batch = run_mlmon("worker", "--burst", env={**env, "MLMON_BATCH_SIZE": "0"})
    assert bad_batch.returncode == 2
    assert (
        "MLMON_BATCH_SIZE='0' is invalid: "
        "must be a whole number >= 1 (allowed: 1 <= value <= 10000)" in bad_batch.stderr
    )


def test_unknown_group_is_refused(env: dict[str, str]) -> None:
    result = run_mlmon("worker", "--groups", "logs,bogus", "--burst", env=env)
    assert result.returncode == 2
    assert "unknown group(s) bogus; known: logs, metrics" in result.stderr


def test_report_export_and_detailed_views(
    publisher: Publisher, env: dict[str, str], tmp_path: Path
) -> None:
    predictions = random_predictions(120, seed=2)
    publisher.publish_many(predictions)
    assert run_mlmon("worker", "--burst", env=env).returncode == 0

    dashboard = run_mlmon("status", env=env).stdout
    assert "Total Predictions: 120" in dashboard
    assert "📊 PREDICTION METRICS" in dashboard
    newest = predictions[-1]
    assert f"1. {newest.ticker} at " in dashboard
    assert "IST" in dashboard  # times shown in MLMON_TIMEZONE

    report = run_mlmon("status", "--report", env=env).stdout
    assert "Total Predictions: 120" in report
    assert "📊" not in report and "✅" not in report

    detailed = run_mlmon("status", "--detailed", env=env).stdout
    assert "ROLLING WINDOWS" in detailed
    assert any(line.startswith("1h ") and " 120 " in line for line in detailed.splitlines())

    text_file, json_file = tmp_path / "out" / "report.txt", tmp_path / "report.json"
    assert run_mlmon("status", "--export", str(text_file), env=env).returncode == 0
    assert "Total Predictions: 120" in text_file.read_text()
    assert run_mlmon("status", "--export", str(json_file), env=env).returncode == 0
    assert json.loads(json_file.read_text())["total_predictions"] == 120


def test_watch_refreshes_until_interrupted(env: dict[str, str]) -> None:
    watch = subprocess.Popen(
        [MLMON, "status", "--watch", "--interval", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    screen, errors = LineReader(watch.stdout), LineReader(watch.stderr)
    try:  # two screens drawn: it refreshes
        screen.wait_for(lambda line: "ML MONITORING DASHBOARD" in line, count=2, timeout_s=30)
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=10)
        screen.join()
        errors.join()
    assert watch.returncode == 0, errors.text
    assert errors.lines == []


HEAVY_PACKAGES = ("sklearn", "scipy", "numpy", "rq", "joblib", "pydantic_settings")


def test_status_and_health_commands_load_no_heavy_package(env: dict[str, str]) -> None:
    """What `mlmon status --json` and `mlmon health` import when they run, not only what
    import-linter sees statically: the modules loaded by the time the command returns."""
    script = (
        "import sys\n"
        "from worker.cli.app import cli\n"
        "for argv in (['status', '--json'], ['health'], ['--help']):\n"
        "    try:\n"
        "        cli(argv, prog_name='mlmon')\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"heavy = {HEAVY_PACKAGES!r}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "print('LOADED', ','.join(loaded))\n"
    )
    done = subprocess.run(
        [str(Path(MLMON).with_name("python")), "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "total_predictions" in done.stdout, "status --json ran"
    [line] = [line for line in done.stdout.splitlines() if line.startswith("LOADED")]
    assert line == "LOADED ", f"heavy packages loaded: {line}"
