"""DockerBackend translation (spec → create options, inspect → state) without an engine.

The real engine is exercised in tests/integration/container_manager; here a recording stub
stands in for the docker client so the option mapping is checked exactly.
"""

from __future__ import annotations

from typing import Any

from container_manager import Address, DockerBackend, Limits, ProcessorSpec
from container_manager.docker_backend import _state


class _Recorder:
    """Just enough of `docker.DockerClient` for `DockerBackend.create`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.containers = self

    def create(self, image: str, **options: Any) -> Any:
        self.calls.append((image, options))
        return type("Created", (), {"id": "abc123"})()


def _spec(network: str | None = None) -> ProcessorSpec:
    return ProcessorSpec(
        name="kato-proc-p1",
        image="kato:fastapi",
        env={"PROCESSOR_ID": "p1"},
        labels={"kato.managed": "true"},
        limits=Limits(memory="256m", cpu=0.5, pids=128),
        volume="kato-data-p1",
        network=network,
    )


def test_create_applies_security_limits_volume_and_loopback_port() -> None:
    client = _Recorder()
    assert DockerBackend(client).create(_spec()) == "abc123"  # type: ignore[arg-type]
    image, options = client.calls[0]
    assert image == "kato:fastapi"
    assert options["user"] == "10001"
    assert options["cap_drop"] == ["ALL"]
    assert options["security_opt"] == ["no-new-privileges"]
    assert options["read_only"] is True
    assert options["tmpfs"] == {"/tmp": f"rw,size={64 * 2**20}"}
    assert (options["mem_limit"], options["nano_cpus"], options["pids_limit"]) == (
        256 * 2**20,
        500_000_000,
        128,
    )
    assert options["volumes"] == {"kato-data-p1": {"bind": "/data", "mode": "rw"}}
    assert options["ports"] == {"8000/tcp": ("127.0.0.1", None)}
    assert "network" not in options
    assert options["environment"] == {"PROCESSOR_ID": "p1"}
    assert options["labels"] == {"kato.managed": "true"}


def test_create_on_a_network_publishes_nothing() -> None:
    client = _Recorder()
    DockerBackend(client).create(_spec(network="katonet"))  # type: ignore[arg-type]
    _, options = client.calls[0]
    assert options["network"] == "katonet"
    assert "ports" not in options


def _inspect(status: str, ports: dict[str, Any], networks: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": "abc123",
        "Name": "/kato-proc-p1",
        "State": {"Status": status},
        "Config": {
            "Env": ["PROCESSOR_ID=p1", "KATO_PROCESSOR_TOKEN=t=ok", "PATH=/usr/bin"],
            "Labels": {"kato.processor_id": "p1"},
        },
        "NetworkSettings": {"Ports": ports, "Networks": networks},
    }


def test_state_reads_published_port_env_and_labels() -> None:
    attrs = _inspect(
        "running",
        {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}]},
        {"bridge": {}},
    )
    state = _state(attrs)
    assert state.name == "kato-proc-p1"
    assert state.env["KATO_PROCESSOR_TOKEN"] == "t=ok"
    assert state.labels == {"kato.processor_id": "p1"}
    assert state.address == Address("127.0.0.1", 49153, published=True)


def test_state_on_user_network_is_addressed_by_name() -> None:
    state = _state(_inspect("running", {"8000/tcp": None}, {"katonet": {}}))
    assert state.address == Address("kato-proc-p1", 8000, published=False)


def test_stopped_container_has_no_address() -> None:
    state = _state(_inspect("exited", {}, {"bridge": {}}))
    assert state.address is None and not state.running
