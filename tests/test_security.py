"""A hostile or misconfigured user: what the least-privilege ACL users enforce, what they
cannot and how it is noticed, secrets kept out of output, configuration errors raised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from helpers import make_prediction, random_predictions, run_mlmon, status_json
from test_retraining import write_training_csv

from producer_sdk import Publisher, PublishError
from worker.alerts.conditions import conditions_of
from worker.levels import Severity
from worker.local.acl import acl_setuser_line, producer_acl_rules, worker_acl_rules
from worker.local.redis_server import NO_PERSISTENCE, RedisServer, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def acl_redis(tmp_path: Path, prefix: str) -> Iterator[RedisServer]:
    """A private server with mlmon's two ACL users (passwords p-secret and w-secret)."""
    server = RedisServer(tmp_path / "redis", args=NO_PERSISTENCE).start()
    admin = redis.Redis.from_url(server.url)
    admin.execute_command(
        *acl_setuser_line("producer", "p-secret", producer_acl_rules(prefix)).split()
    )
    admin.execute_command(*acl_setuser_line("worker", "w-secret", worker_acl_rules(prefix)).split())
    admin.close()
    yield server
    server.stop(save=False)


def url_of(server: RedisServer, user: str, password: str) -> str:
    return f"redis://{user}:{password}@127.0.0.1:{server.port}/0"


def test_the_sdk_never_trims_and_a_trimming_producer_is_reported(
    acl_redis: RedisServer, env: dict[str, str], prefix: str
) -> None:
    admin = redis.Redis.from_url(acl_redis.url)
    admin.config_set("slowlog-log-slower-than", 0)  # the log of every command, with its args
    admin.slowlog_reset()
    producer = Publisher.from_url(
        url_of(acl_redis, "producer", "p-secret"), prefix=prefix, on_failure="raise"
    )
    worker_env = {**env, "REDIS_URL": url_of(acl_redis, "worker", "w-secret")}
    assert run_mlmon("worker", "--burst", env=worker_env).returncode == 0  # groups exist
    producer.publish(make_prediction())
    producer.publish_many(random_predictions(24, seed=4))

    xadds = [e["command"] for e in admin.slowlog_get(1000) if e["command"].startswith(b"XADD")]
    assert len(xadds) == 25
    assert not any(b"MAXLEN" in c.upper() or b"MINID" in c.upper() for c in xadds)
    stream = f"{prefix}:stream:predictions"
    assert admin.xlen(stream) == 25
    healthy = run_mlmon("health", "--groups", "logs", env=worker_env).stdout
    assert "deleted before it read" not in healthy

    # Redis 7 ACLs cannot deny XADD's trimming options to a user allowed to XADD: a hostile
    # producer can trim, and health names it
    producer.redis.execute_command("XADD", stream, "MAXLEN", "1", "*", "event", "{}")
    assert admin.xlen(stream) == 1
    reported = run_mlmon("health", "--groups", "logs", env=worker_env)
    assert reported.returncode == 1
    assert f"group logs on {stream}: entries were deleted before it read them" in reported.stdout
    status = status_json(env=worker_env)
    lost = [c for c in conditions_of(status, last_dead_letters=0, max_lag=10**9) if c.active]
    assert {c.name for c in lost} >= {f"entries_lost:logs:{stream}"}
    assert all(c.severity is Severity.CRITICAL for c in lost if c.name.startswith("entries_lost"))


@pytest.mark.parametrize(
    ("user", "password", "other_prefix", "cause"),
    [
        ("producer", "wrong", False, "AuthenticationError"),
        ("producer", "p-secret", True, "NoPermissionError"),
    ],
)
def test_a_configuration_error_raises_and_is_never_spooled(
    acl_redis: RedisServer,
    prefix: str,
    tmp_path: Path,
    user: str,
    password: str,
    other_prefix: bool,
    cause: str,
) -> None:
    publisher = Publisher.from_url(
        url_of(acl_redis, user, password),
        prefix="another-deployment" if other_prefix else prefix,
        spool_dir=tmp_path / "spool",
    )  # on_failure="spool": an outage would be spooled silently
    for publish in (
        lambda: publisher.publish(make_prediction()),
        lambda: publisher.publish_many(random_predictions(3, seed=1)),
    ):
        with pytest.raises(PublishError, match=f"{cause}.*a configuration error"):
            publish()
    assert not publisher.spool.has_entries()


def test_secrets_are_masked_in_config_connection_errors_and_setting_errors(
    env: dict[str, str],
) -> None:
    hidden = {
        "REDIS_URL": f"{env['REDIS_URL']}?password=hunter2-redis",
        "ML_ALERT_WEBHOOK_URL": "https://hooks.example/in?token=tok-webhook&team=ops",
    }
    config = run_mlmon("config", env={**env, **hidden})
    assert config.returncode == 0, config.stderr
    assert "hunter2-redis" not in config.stdout and "tok-webhook" not in config.stdout
    assert "password=***" in config.stdout and "token=***&team=ops" in config.stdout

    closed = f"redis://127.0.0.1:{free_port()}/0?password=hunter2-down"
    down = run_mlmon("status", env={**env, "REDIS_URL": closed})
    assert down.returncode != 0
    assert "hunter2-down" not in down.stdout + down.stderr and "password=***" in down.stderr

    for name, value in {
        "ML_ALERT_WEBHOOK_SECRET": "s3cret-" * 100,  # longer than allowed
        "ML_ALERT_SLACK_WEBHOOK_URL": "not-a-url-s3cret",
        "ML_ALERT_TELEGRAM_TOKEN": "t0ken-" * 100,
    }.items():
        bad = run_mlmon("config", env={**env, name: value})
        assert bad.returncode == 2
        assert f"{name}='***' is invalid" in bad.stderr and "s3cret" not in bad.stderr
        assert "t0ken" not in bad.stderr


def test_rq_keys_are_the_deployments_and_the_worker_user_reaches_no_others(
    acl_redis: RedisServer, env: dict[str, str], prefix: str, home: Path
) -> None:
    worker_env = {**env, "REDIS_URL": url_of(acl_redis, "worker", "w-secret")}
    worker_env.pop("RQ_KEY_PREFIX", None)  # as in a deployment: mlmon scopes RQ itself
    write_training_csv(home, 300)
    asked = run_mlmon("retrain", "--force", "--reason", "scoped", env=worker_env)
    assert asked.returncode == 0, asked.stderr
    ran = run_mlmon("rq-worker", "--burst", "--queue", "retraining", env=worker_env, timeout_s=120)
    assert ran.returncode == 0, ran.stderr

    admin = redis.Redis.from_url(acl_redis.url)
    assert 'outcome="promoted"' in (home / "logs" / "ml_retraining_history.txt").read_text()
    keys = {key.decode() for key in admin.scan_iter(count=1000)}
    assert any(key.startswith(f"{prefix}:rq:job:") for key in keys)
    assert all(key.startswith(f"{prefix}:") for key in keys), sorted(keys)
    worker = redis.Redis.from_url(worker_env["REDIS_URL"])
    for foreign in ("rq:queue:billing", "other-deployment:rq:queue:other-retraining"):
        with pytest.raises(redis.exceptions.NoPermissionError):
            worker.lpush(foreign, "job")
    config = run_mlmon("acl", env=worker_env).stdout
    assert f"~{prefix}:* resetchannels &{prefix}:rq:*" in config and "~rq:*" not in config


def test_a_partitioned_worker_user_reaches_its_own_tags_only(
    client: redis.Redis, prefix: str
) -> None:
    """`{<prefix>-p*}` would also match another deployment called `<prefix>-p...`."""
    user = f"{prefix}-worker"
    rules = worker_acl_rules(prefix, partitions=4)
    client.execute_command(*acl_setuser_line(user, "w-secret", rules).split())
    try:

        def allowed(key: str) -> bool:
            reply = client.execute_command("ACL", "DRYRUN", user, "HGETALL", key)
            return bool(reply == b"OK")

        assert all(allowed(f"{{{prefix}-p{i}}}:metrics:all") for i in range(4))
        assert allowed(f"{{{prefix}}}:retrain:state")
        assert not allowed(f"{{{prefix}-p4}}:metrics:all")
        assert not allowed(f"{{{prefix}-pwned}}:metrics:all")
        assert not allowed(f"{{{prefix}-prod}}:retrain:state")
    finally:
        client.acl_deluser(user)
