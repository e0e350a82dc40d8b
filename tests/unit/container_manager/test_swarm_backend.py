"""SwarmBackend translation (spec → service) without an engine: a recording stub stands in for
the docker client so the mapping is checked exactly. The real swarm is exercised in
tests/integration/container_manager/test_swarm_backend.py."""

from __future__ import annotations

from typing import Any

import pytest

from container_manager import Limits, ProcessorSpec
from container_manager.swarm_backend import TOKEN_FILE, SwarmBackend


class _Secret:
    def __init__(self, name: str, labels: dict[str, str]) -> None:
        self.id, self.name = f"id-{name}", name
        self.attrs = {"Spec": {"Name": name, "Labels": labels}}
        self.removed = False

    def remove(self) -> None:
        self.removed = True


class _Recorder:
    """Just enough of `docker.DockerClient` for the service creation step of `launch`."""

    def __init__(self, node_record: str | None = None) -> None:
        self.services = self
        self.secrets = _Secrets()
        self.created: list[tuple[str, dict[str, Any]]] = []
        if node_record:
            self.secrets.items.append(_Secret("kato-node-p1", {"kato.node": node_record}))

    def create(self, image: str, **options: Any) -> Any:
        self.created.append((image, options))
        return type("Created", (), {"id": "svc1"})()


class _Secrets:
    def __init__(self) -> None:
        self.items: list[_Secret] = []

    def list(self, filters: dict[str, str]) -> list[_Secret]:
        return [s for s in self.items if s.name.startswith(filters["name"]) and not s.removed]

    def create(self, name: str, data: bytes, labels: dict[str, str]) -> _Secret:
        secret = _Secret(name, labels)
        self.items.append(secret)
        return secret


def _spec(network: str | None = None) -> ProcessorSpec:
    return ProcessorSpec(
        name="kato-proc-p1",
        image="kato:fastapi",
        env={"PROCESSOR_ID": "p1", "KATO_PROCESSOR_TOKEN": "t0k3n"},
        labels={"kato.managed": "true"},
        limits=Limits(memory="256m", cpu=0.5, pids=128),
        volume="kato-data-p1",
        network=network,
    )


def test_service_carries_the_whole_spec_and_the_token_only_as_a_secret() -> None:
    client = _Recorder()
    assert SwarmBackend(client)._create_service(_spec()) == "svc1"  # type: ignore[arg-type]
    [(image, options)] = client.created
    assert image == "kato:fastapi"
    assert options["env"] == ["PROCESSOR_ID=p1", f"KATO_PROCESSOR_TOKEN_FILE={TOKEN_FILE}"]
    assert "t0k3n" not in repr(options)
    [secret] = client.secrets.items
    assert secret.name == "kato-token-p1"
    reference = options["secrets"][0]
    assert (reference["SecretName"], reference["File"]["Name"]) == ("kato-token-p1", TOKEN_FILE)
    assert (reference["File"]["UID"], reference["File"]["Mode"]) == ("10001", 0o400)
    assert (options["user"], options["read_only"], options["cap_drop"]) == ("10001", True, ["ALL"])
    assert options["labels"] == options["container_labels"] == {"kato.managed": "true"}
    limits = options["resources"]["Limits"]
    assert limits == {"NanoCPUs": 500_000_000, "MemoryBytes": 256 * 2**20, "Pids": 128}
    assert options["resources"]["Reservations"] == {"MemoryBytes": 256 * 2**20}
    data, tmp = options["mounts"]
    assert (data["Type"], data["Source"], data["Target"]) == ("volume", "kato-data-p1", "/data")
    assert (tmp["Type"], tmp["Target"]) == ("tmpfs", "/tmp")
    assert tmp["TmpfsOptions"]["SizeBytes"] == 64 * 2**20
    assert options["endpoint_spec"]["Mode"] == "dnsrr"
    assert options["endpoint_spec"]["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 8000, "PublishMode": "host"}
    ]
    assert options["healthcheck"]["Test"] == ["NONE"]
    assert options["restart_policy"]["Condition"] == "on-failure"
    assert options["constraints"] == []  # first launch: any node


@pytest.mark.parametrize("network", ["kato-swarm-net"])
def test_on_a_network_nothing_is_published(network: str) -> None:
    client = _Recorder()
    SwarmBackend(client)._create_service(_spec(network))  # type: ignore[arg-type]
    [(_, options)] = client.created
    assert options["networks"] == [network]
    assert options["endpoint_spec"].get("Ports", []) == []


def test_a_processor_with_data_is_pinned_to_the_node_that_holds_it() -> None:
    client = _Recorder(node_record="node-7")
    SwarmBackend(client)._create_service(_spec())  # type: ignore[arg-type]
    [(_, options)] = client.created
    assert options["constraints"] == ["node.id==node-7"]

