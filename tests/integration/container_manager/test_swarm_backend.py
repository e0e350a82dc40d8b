"""KatoContainerManager on a real (one-node) Docker Swarm with `KATO_BACKEND=swarm`.

The fixture joins the engine to a swarm only when it is not in one, and leaves it again at the
end in that case, so `make test` leaves the engine as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import httpx
import pytest

from container_manager import ContainerSettings, KatoContainerManager
from container_manager.backends import load_backend
from container_manager.swarm_backend import SwarmBackend
from container_manager.testing import processor_http, swarm_node

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def swarm() -> Iterator[str]:
    with swarm_node() as node_id:
        yield node_id


@pytest.fixture
def settings(swarm: str, settings: ContainerSettings) -> ContainerSettings:
    """The shared real-engine settings (tests/integration/conftest.py), on the swarm backend."""
    return settings.model_copy(update={"backend": "swarm", "name_prefix": "kato-sw"})



def test_backend_is_chosen_by_name() -> None:
    assert isinstance(load_backend("swarm"), SwarmBackend)


def test_processor_is_a_hardened_service_with_its_token_as_a_secret(
    manager: KatoContainerManager, swarm: str
) -> None:
    info = manager.create_processor(session_id="s1", user_id="u1", config={"pids_limit": 64})
    engine = docker.from_env()
    service = engine.services.get(info.container_id)
    labels = service.attrs["Spec"]["Labels"]
    assert (labels["kato.processor_id"], labels["kato.session_id"]) == (info.processor_id, "s1")
    template = service.attrs["Spec"]["TaskTemplate"]
    container_spec = template["ContainerSpec"]
    env = dict(item.split("=", 1) for item in container_spec["Env"])
    assert "KATO_PROCESSOR_TOKEN" not in env
    assert env["KATO_PROCESSOR_TOKEN_FILE"] == "/run/secrets/kato-token"
    assert info.token not in str(service.attrs)
    assert container_spec["User"] == "10001"
    assert container_spec["ReadOnly"] is True
    assert container_spec["CapabilityDrop"] == ["ALL"]
    assert template["Resources"]["Limits"] == {
        "NanoCPUs": 1_000_000_000,
        "MemoryBytes": 512 * 2**20,
        "Pids": 64,
    }
    assert not template.get("Placement", {}).get("Constraints")  # first launch: any node
    [secret] = engine.secrets.list(filters={"name": f"kato-token-{info.processor_id}"})

    with processor_http(info) as client:
        assert client.get("/stm").status_code == 200
        assert httpx.get(f"{info.internal_url}/stm", timeout=5).status_code == 401
    [task] = service.tasks(filters={"desired-state": "running"})
    container = engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
    status = container.exec_run(["cat", "/proc/1/status"]).output.decode()
    assert "NoNewPrivs:\t1" in status
    assert container.labels["kato.processor_id"] == info.processor_id

    manager.remove_processor(info.processor_id)
    assert not engine.services.list(filters={"id": info.container_id})
    assert not engine.secrets.list(filters={"id": secret.id})
    assert not engine.volumes.list(filters={"name": f"kato-data-{info.processor_id}"})


def test_hibernate_and_wake_on_the_node_that_holds_the_volume(
    manager: KatoContainerManager, swarm: str
) -> None:
    info = manager.create_processor(session_id="s2")
    with processor_http(info) as client:
        for strings in (["a"], ["b"], ["c"]):
            client.post("/observe", json={"strings": strings}).raise_for_status()
        name = client.post("/learn").json()["pattern_name"]
    assert name.startswith("PTRN|")

    manager.remove_processor(info.processor_id, keep_data=True)
    assert manager.get_processor(info.processor_id) is None
    resumed = manager.create_processor(processor_id=info.processor_id)
    assert resumed.token != info.token
    service = docker.from_env().services.get(resumed.container_id)
    constraints = service.attrs["Spec"]["TaskTemplate"]["Placement"]["Constraints"]
    assert constraints == [f"node.id=={swarm}"]
    with processor_http(resumed) as client:
        assert client.get(f"/pattern/{name.replace('|', '%7C')}").status_code == 200

    # A second manager on the same state directory (a restart) finds it and its token again.
    again = KatoContainerManager(manager.settings).get_processor(info.processor_id)
    assert again is not None and again.token == resumed.token
    assert [line for line in manager.logs(info.processor_id, tail=50) if line]
    assert manager.stats(info.processor_id)["memory_bytes"] > 0
