"""docker-compose.fastapi.yml: Compose accepts it, it says what the deployment promises, and its
`primary` processor really starts hardened and healthy.

The tests that start containers use a throw-away project name with an override file that renames
the private network and labels the containers (`kato.test`), so they never touch a real
deployment; `down -v` removes everything at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from container_manager.testing import image_available

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.fastapi.yml"
IMAGE = "kato:fastapi"
DOCKER_SOCKET = "/var/run/docker.sock"


def compose_cli() -> list[str]:
    """`docker compose` (v2 plugin) or `docker-compose` (v1), whichever works here."""
    for candidate in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(candidate[0]) and _succeeds([*candidate, "version"]):
            return candidate
    pytest.skip("no Compose CLI: run scripts/ensure-docker.sh")


def _succeeds(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def compose() -> list[str]:
    return compose_cli()


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The file as written (YAML merge keys resolved), independent of the Compose version."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def test_compose_accepts_the_file(compose: list[str]) -> None:
    result = subprocess.run(
        [*compose, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_manager_is_published_on_loopback_and_drives_the_private_network(
    spec: dict[str, Any],
) -> None:
    manager = spec["services"]["session-manager"]
    network_name = spec["networks"]["kato"]["name"]

    assert manager["image"] == IMAGE
    assert manager["command"] == ["katoctl", "up", "--host", "0.0.0.0", "--port", "8080"]
    assert manager["ports"] == ["127.0.0.1:8080:8080"]
    assert manager["environment"]["KATO_NETWORK"] == network_name
    assert manager["networks"] == ["kato"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in manager["volumes"]
    state_dir = manager["environment"]["KATO_STATE_DIR"]
    assert f"manager-state:{state_dir}" in manager["volumes"]


def test_primary_processor_is_private_and_hardened(spec: dict[str, Any]) -> None:
    primary = spec["services"]["primary"]

    assert primary["image"] == IMAGE
    assert primary["environment"]["PROCESSOR_ID"] == "primary"
    assert "ports" not in primary
    assert primary["networks"] == ["kato"]
    assert "primary-data:/data" in primary["volumes"]
    assert primary["read_only"] is True
    assert primary["tmpfs"] == ["/tmp"]
    assert primary["cap_drop"] == ["ALL"]
    assert primary["security_opt"] == ["no-new-privileges:true"]
    assert {"mem_limit", "cpus", "pids_limit"} <= primary.keys()
    assert set(spec["volumes"]) == {"manager-state", "primary-data"}


@dataclass(frozen=True)
class Project:
    """A throw-away Compose project: `command` is the CLI prefix with `-p` and both files."""

    name: str
    labels: dict[str, str]
    command: list[str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KATO_DOCKER_GID": str(os.stat(DOCKER_SOCKET).st_gid)}
        return subprocess.run(
            [*self.command, *args], capture_output=True, text=True, check=False, env=env
        )


@pytest.fixture
def project(compose: list[str], tmp_path: Path) -> Iterator[Project]:
    """The deployment under a unique project name, network name and `kato.test` label."""
    if not image_available(IMAGE):
        pytest.skip(f"image {IMAGE} is absent: build it with `make image` (katoctl build)")
    name = f"kato-test-{uuid.uuid4().hex[:10]}"
    labels = {"kato.test": name}
    override = tmp_path / "override.yml"
    override.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "primary": {"labels": labels},
                    "session-manager": {"labels": labels, "environment": {"KATO_NETWORK": name}},
                },
                "networks": {"kato": {"name": name}},
            }
        )
    )
    project = Project(
        name, labels, [*compose, "-p", name, "-f", str(COMPOSE_FILE), "-f", str(override)]
    )
    try:
        yield project
    finally:
        project.run("down", "-v", "--remove-orphans")
    filters: dict[str, Any] = {"label": [f"com.docker.compose.project={name}"]}
    client = docker.from_env()
    assert client.containers.list(all=True, filters=filters) == []
    assert client.volumes.list(filters=filters) == []
    assert client.networks.list(names=[name]) == []


def test_primary_starts_hardened_and_becomes_healthy(project: Project) -> None:
    started = project.run("up", "-d", "primary")
    assert started.returncode == 0, started.stderr
    client = docker.from_env()
    (container,) = client.containers.list(
        filters={"label": [f"{key}={value}" for key, value in project.labels.items()]}
    )

    deadline = time.monotonic() + 60
    while container.attrs["State"]["Health"]["Status"] != "healthy":
        assert time.monotonic() < deadline, container.logs(tail=20).decode()
        time.sleep(0.5)
        container.reload()

    host = container.attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["Memory"] > 0 and host["NanoCpus"] > 0 and host["PidsLimit"] > 0
    assert not host["PortBindings"]
    assert container.attrs["Config"]["User"] == "10001:10001"
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [project.name]


def test_manager_reaches_the_engine_as_uid_10001_without_capabilities(project: Project) -> None:
    """The socket mount plus `group_add` is all the hardened manager needs to drive Docker."""
    probe = "import docker, os; print(os.getuid(), docker.from_env().ping())"
    result = project.run("run", "--rm", "session-manager", "python", "-c", probe)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["10001", "True"]
