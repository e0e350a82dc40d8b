"""docker-compose.fastapi.yml: Compose accepts it, it says what the deployment promises, and its
`primary` processor really starts hardened and healthy.

The tests that start containers use a throw-away project name with an override file that renames
the private network and labels the containers (`kato.test`), so they never touch a real
deployment; `down -v` removes everything at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
import yaml
from docker.models.containers import Container

from container_manager.build.image import DEFAULT_TAG
from container_manager.testing import labelled_containers, remove_labelled
from kato.web.wait import WaitTimeout, wait_until

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.fastapi.yml"
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

    assert manager["image"] == DEFAULT_TAG
    assert manager["command"] == ["katoctl", "up", "--host", "0.0.0.0", "--port", "8080"]
    assert manager["ports"] == ["127.0.0.1:${KATO_MANAGER_PORT-8080}:8080"]
    assert manager["environment"]["KATO_NETWORK"] == network_name
    assert manager["networks"] == ["kato"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in manager["volumes"]
    state_dir = manager["environment"]["KATO_STATE_DIR"]
    assert f"manager-state:{state_dir}" in manager["volumes"]


def test_primary_processor_is_private_and_hardened(spec: dict[str, Any]) -> None:
    primary = spec["services"]["primary"]

    assert primary["image"] == DEFAULT_TAG
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
        """Run a Compose subcommand; the manager gets the socket's group and a free host port."""
        env = {
            **os.environ,
            "KATO_DOCKER_GID": str(os.stat(DOCKER_SOCKET).st_gid),
            "KATO_MANAGER_PORT": "",
        }
        return subprocess.run(
            [*self.command, *args], capture_output=True, text=True, check=False, env=env
        )

    def containers(self, **labels: str) -> list[Container]:
        """Running containers with this project's label (Compose's and the manager's own)."""
        return labelled_containers({**self.labels, **labels}, stopped=False)


@pytest.fixture
def project(compose: list[str], processor_image: str, tmp_path: Path) -> Iterator[Project]:
    """The deployment under a unique project name, network name and `kato.test` label.

    The manager is told to label (and name) the processors it creates the same way, so the
    finalizer finds them too: they go first, then `down -v` removes network and volumes.
    """
    name = f"kato-test-{uuid.uuid4().hex[:10]}"
    labels = {"kato.test": name}
    manager_env = {
        "KATO_NETWORK": name,
        "KATO_EXTRA_LABELS": json.dumps(labels),
        "KATO_CONTAINER_PREFIX": name,
    }
    override = tmp_path / "override.yml"
    override.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "primary": {"labels": labels},
                    "session-manager": {"labels": labels, "environment": manager_env},
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
        project.run("stop", "session-manager")  # no warm-pool refill while cleaning up
        for container in project.containers(**{"kato.managed": "true"}):
            container.remove(force=True, v=True)
        project.run("down", "-v", "--remove-orphans")
    filters: dict[str, Any] = {"label": [f"com.docker.compose.project={name}"]}
    client = docker.from_env()
    assert client.containers.list(all=True, filters=filters) == []
    assert client.volumes.list(filters=filters) == []
    assert client.networks.list(names=[name]) == []
    assert remove_labelled(labels) == []


def wait_healthy(container: Container, timeout: float = 60) -> None:
    def healthy() -> bool:
        container.reload()
        return bool(container.attrs["State"]["Health"]["Status"] == "healthy")

    try:
        wait_until(f"{container.name} healthy", healthy, timeout=timeout, interval=0.5)
    except WaitTimeout as exc:
        raise WaitTimeout(f"{exc}; its log ends:\n{container.logs(tail=20).decode()}") from None


def test_primary_starts_hardened_and_becomes_healthy(project: Project) -> None:
    started = project.run("up", "-d", "primary")
    assert started.returncode == 0, started.stderr
    (container,) = project.containers()
    wait_healthy(container)

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


def test_manager_serves_sessions_with_processors_on_the_private_network(project: Project) -> None:
    started = project.run("up", "-d")
    assert started.returncode == 0, started.stderr
    (manager,) = project.containers(**{"com.docker.compose.service": "session-manager"})
    wait_healthy(manager)
    (binding,) = manager.attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    assert binding["HostIp"] == "127.0.0.1"

    with httpx.Client(base_url=f"http://127.0.0.1:{binding['HostPort']}", timeout=60) as api:
        created = api.post("/session/create", json={"genes": {"max_pattern_length": 3}})
        assert created.status_code == 201, created.text
        session_id = created.json()["session_id"]
        assert api.get(f"/session/{session_id}/health").status_code == 200

        # The session's processor, and any warm-pool processor beside it: all on the network.
        processors = project.containers(**{"kato.managed": "true"})
        assert created.json()["processor_id"] in {
            p.labels["kato.processor_id"] for p in processors
        }
        for processor in processors:
            assert list(processor.attrs["NetworkSettings"]["Networks"]) == [project.name]
            assert not processor.attrs["HostConfig"]["PortBindings"]
            assert processor.attrs["HostConfig"]["ReadonlyRootfs"] is True

        assert api.delete(f"/session/{session_id}").status_code == 204
