"""docker-compose.yml and the Dockerfile without Docker: the file against the compose-spec
schema, its settings against the Settings and the README, and every command and
healthcheck of it run for real, against the test Redis, each healthcheck shown to check
its own service."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from helpers import wait_until

from worker.consumer.topology import GroupName
from worker.keys import RQ_QUEUE_KINDS
from worker.local.process_set import local_process_set
from worker.local.redis_server import free_port
from worker.settings import FIELD_DEFAULTS, FIELD_OF_ENV, load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
MLMON_SERVICES = [
    name for name, service in SERVICES.items() if service.get("image") == "mlmon:latest"
]
GROUP_SERVICES = {f"worker-{group}": group for group in GroupName}
RQ_SERVICES = {f"rq-{kind}": kind for kind in RQ_QUEUE_KINDS}
ENV_FIELDS = FIELD_OF_ENV
# values that differ from the Settings defaults on purpose: the container's Redis and folder
CONTAINER_VALUES = {"REDIS_URL": "redis://redis:6379/0", "MLMON_HOME": "/app"}
BIN = Path(sys.executable).parent
TOKEN = "compose-test-token-0123456789abcdef"


def test_the_compose_file_is_valid_against_the_compose_spec() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_redis_url_is_written_once_and_no_command_carries_one() -> None:
    lines = [ln for ln in COMPOSE_FILE.read_text().splitlines() if "redis://redis:6379" in ln]
    assert lines == ['  REDIS_URL: "redis://redis:6379/0"']
    for name, service in SERVICES.items():
        words = [*service.get("command", []), *service["healthcheck"]["test"]]
        assert not any("redis://" in str(w) or w == "--url" for w in words), name


def test_services_are_the_process_set_of_mlmon_up() -> None:
    """One service per consumer group and per RQ queue, with the argv `mlmon up` runs,
    plus the exporter and the dashboard."""
    up = {
        spec.name: list(spec.argv[spec.argv.index("worker.cli") + 1 :])
        for spec in local_process_set()
    }
    served = {name: SERVICES[name]["command"][1:] for name in [*GROUP_SERVICES, *RQ_SERVICES]}
    assert served == up
    assert set(MLMON_SERVICES) == {*GROUP_SERVICES, *RQ_SERVICES, "exporter", "dashboard"}
    assert SERVICES["exporter"]["command"][:2] == ["mlmon", "exporter"]
    assert SERVICES["dashboard"]["command"][:2] == ["mlmon", "dashboard"]


def test_every_service_has_a_healthcheck_of_its_own() -> None:
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    for name, group in GROUP_SERVICES.items():
        assert SERVICES[name]["healthcheck"]["test"][1:] == ["mlmon", "health", "--groups", group]
    for name, kind in RQ_SERVICES.items():
        check = SERVICES[name]["healthcheck"]["test"][1:]
        assert check == ["mlmon", "rq-worker", "--queue", kind, "--check"]
    for name in ("exporter", "dashboard"):
        port = SERVICES[name]["command"][SERVICES[name]["command"].index("--port") + 1]
        probe = SERVICES[name]["healthcheck"]["test"]
        assert probe[1:3] == ["mlmon", "probe"] and f"127.0.0.1:{port}/" in probe[3]
        assert SERVICES[name]["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_environment_is_every_setting_with_its_default() -> None:
    shared = SERVICES["exporter"]["environment"]
    for name in MLMON_SERVICES:
        assert SERVICES[name]["environment"] == shared, f"{name} shares x-mlmon-env"
    assert set(shared) == set(ENV_FIELDS), "every setting, and nothing the Settings do not know"
    assert "MLMON_CONSUMER" not in shared, "the consumer name must stay the host name"
    for name, value in shared.items():
        default = FIELD_DEFAULTS[ENV_FIELDS[name]]
        if name in CONTAINER_VALUES:
            assert value == CONTAINER_VALUES[name]
        elif value is None:
            assert default is None, f"{name} is left unset but defaults to {default!r}"
        else:
            assert isinstance(value, str), f"{name}: quote it, compose wants strings"
            parsed = getattr(load_settings(**{name: value}), ENV_FIELDS[name])
            assert parsed == default, f"{name}={value!r} is not the default {default!r}"


def test_compose_defaults_match_the_readme_table() -> None:
    shared = SERVICES["exporter"]["environment"]
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", readme, flags=re.MULTILINE)
    compared = 0
    for name, readme_default in rows:
        if name in shared and name not in CONTAINER_VALUES and shared[name] is not None:
            from_readme = getattr(load_settings(**{name: readme_default}), ENV_FIELDS[name])
            from_compose = getattr(load_settings(**{name: shared[name]}), ENV_FIELDS[name])
            assert from_readme == from_compose, name
            compared += 1
    assert compared >= 20
    assert all(f"`{name}`" in readme for name in shared), "every setting in the README"


def test_volumes_restart_policies_and_scaling() -> None:
    redis_service = SERVICES["redis"]
    for name, service in SERVICES.items():
        assert service["restart"] in {"always", "unless-stopped", "on-failure"}, name
    [redis_volume] = redis_service["volumes"]
    volume_name, mount = redis_volume.split(":")
    assert mount == "/data" and volume_name in COMPOSE["volumes"]
    for name in MLMON_SERVICES:
        service = SERVICES[name]
        home = service["environment"]["MLMON_HOME"]
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}
        mounts = dict(volume.split(":") for volume in service["volumes"])
        for folder in ("models", "logs", "data"):
            assert mounts[f"./{folder}"] == f"{home}/{folder}"
            assert (ROOT / folder).is_dir()
        assert "hostname" not in service and "container_name" not in service, (
            "replicas need distinct host names: they are the consumer names"
        )
    for name in ("prometheus", "grafana"):
        assert SERVICES[name]["profiles"] == ["monitoring"]
        for volume in SERVICES[name]["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith("./") or (ROOT / source).exists(), volume


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_installs_the_project_from_pyproject_slim() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copies = [args for kind, args in instructions if kind == "COPY"]
    assert any(args.split()[0] == "pyproject.toml" for args in copies)
    runs = " && ".join(args for kind, args in instructions if kind == "RUN")
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", runs), "installs the project itself"
    assert "tomllib" in runs and "['project']['dependencies']" in runs
    for dev_tool in ("[dev]", "pytest", "ruff", "mypy"):
        assert dev_tool not in runs
    assert ("USER", "${MLMON_UID}") in instructions
    assert ("ARG", "MLMON_UID=1000") in instructions, "a non-root user by default"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)


@pytest.mark.parametrize(("uid", "creates"), [("0", False), ("1000", True), ("4321", True)])
def test_the_dockerfile_user_step_builds_for_any_uid(uid: str, creates: bool) -> None:
    """The RUN that makes the user, run by sh against the base image's users (root only
    among these uids) with `useradd` recorded instead of run: root's uid (a root-owned
    clone) must not reach `useradd --uid 0`, which fails."""
    [step] = [args for kind, args in dockerfile_instructions() if "useradd" in args]
    image_users = 'getent() { [ "$1" = passwd ] && [ "$2" = 0 ]; }\n'
    script = image_users + 'useradd() { echo "useradd $*"; }\n' + step
    result = subprocess.run(
        ["sh", "-ec", script], env={"MLMON_UID": uid, "PATH": os.environ["PATH"]},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (f"--uid {uid}" in result.stdout) is creates


# -- every command and healthcheck, for real ---------------------------------------------


def service_env(redis_url: str, prefix: str, home: Path) -> dict[str, str]:
    """x-mlmon-env as a container gets it, pointed at the test Redis, prefix and home."""
    shared = SERVICES["exporter"]["environment"]
    env = {k: v for k, v in os.environ.items() if k not in ENV_FIELDS}
    env |= {name: value for name, value in shared.items() if value is not None}
    env |= {
        "REDIS_URL": redis_url,
        "MLMON_PREFIX": prefix,
        "MLMON_HOME": str(home),
        "MLMON_HEARTBEAT_S": "1",  # so that a stopped consumer's heartbeat ends within 3 s
        "MLMON_DASHBOARD_TOKEN": TOKEN,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    return env


def local_argv(argv: list[str], ports: dict[str, str]) -> list[str]:
    """A service's argv with its published ports moved to free ones."""
    text = [str(word) for word in argv]
    for published, free in ports.items():
        text = [word.replace(published, free) for word in text]
    return text


def passes(argv: list[str], env: dict[str, str]) -> bool:
    return (
        subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False).returncode == 0
    )


@contextmanager
def running(
    names: list[str], env: dict[str, str], ports: dict[str, str]
) -> Iterator[dict[str, subprocess.Popen[str]]]:
    processes = {
        name: subprocess.Popen(
            local_argv(SERVICES[name]["command"], ports),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    }
    try:
        yield processes
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            _, stderr = process.communicate(timeout=30)
            assert process.returncode == 0, f"{name} did not stop cleanly: {stderr[-2000:]}"


@pytest.mark.slow
def test_every_command_and_healthcheck_runs_and_checks_its_own_service(
    redis_url: str, prefix: str, home: Path, client: redis.Redis
) -> None:
    env = service_env(redis_url, prefix, home)
    ports = {"9108": str(free_port()), "8050": str(free_port())}
    checks = {
        name: local_argv(SERVICES[name]["healthcheck"]["test"][1:], ports)
        for name in MLMON_SERVICES
    }
    assert not any(passes(check, env) for check in checks.values()), "nothing runs yet"

    with running(MLMON_SERVICES, env, ports) as processes:
        for name, check in checks.items():
            wait_until(
                lambda check=check: passes(check, env), 60, poll_s=0.5, what=f"{name} healthy"
            )
        # stopping one service fails its own healthcheck, and no other
        for stopped in ("worker-logs", "rq-alerts", "dashboard"):
            processes[stopped].send_signal(signal.SIGTERM)
            assert processes[stopped].wait(timeout=30) == 0
            wait_until(
                lambda s=stopped: not passes(checks[s], env),
                30,
                poll_s=0.5,
                what=f"{stopped} unhealthy",
            )
        still = {name: passes(check, env) for name, check in checks.items()}
        assert [name for name, ok in still.items() if not ok] == [
            "worker-logs",
            "rq-alerts",
            "dashboard",
        ]


def test_redis_healthcheck_runs(redis_url: str) -> None:
    port = str(redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"])
    test = SERVICES["redis"]["healthcheck"]["test"][1:]
    result = subprocess.run(
        [*test[:1], "-p", port, *test[1:]], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "PONG"


def test_prometheus_service_runs_with_the_mounted_files_and_passes_its_healthcheck(
    tmp_path: Path,
) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus not found: .ci/run installs Debian's prometheus")
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    service = SERVICES["prometheus"]
    mounts = {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = str(ROOT / source) if source.startswith("./") else str(tmp_path / source)
    port = str(free_port())
    argv = [prometheus]
    for option in service["command"]:
        for target, source in mounts.items():
            option = option.replace(f"={target}", f"={source}")  # noqa: PLW2901
        argv.append(option)
    argv.append(f"--web.listen-address=127.0.0.1:{port}")
    check = [word.replace("9090", port) for word in service["healthcheck"]["test"][1:]]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def healthy() -> bool:
        assert process.poll() is None, process.communicate()[1][-2000:]
        return passes(check, dict(os.environ))

    try:
        wait_until(healthy, 30, poll_s=0.5, what="prometheus healthy")
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0
