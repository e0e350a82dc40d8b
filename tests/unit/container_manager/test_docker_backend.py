"""DockerBackend translation (spec → create options, inspect → state) without an engine.

The real engine is exercised in tests/integration/container_manager; here a recording stub
stands in for the docker client so the option mapping is checked exactly.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import LogConfig

from container_manager import (
    Address,
    EngineError,
    EngineUnavailableError,
    Limits,
    ProcessorNotFoundError,
    ProcessorSpec,
    ProcessorStartError,
)
from container_manager._docker import container_state as _state
from container_manager.docker_backend import DockerBackend, _create_options


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
    options = _create_options(_spec())
    assert options["name"] == "kato-proc-p1"
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
    options = _create_options(_spec(network="katonet"))
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


def test_create_rotates_logs_and_switches_off_the_image_healthcheck() -> None:
    options = _create_options(_spec())
    assert options["log_config"] == LogConfig(
        type="json-file", config={"max-size": "10m", "max-file": "3"}
    )
    assert options["healthcheck"] == {"test": ["NONE"]}


# -- every engine error is translated at the boundary -------------------------------------

_RUNC = (
    "OCI runtime create failed: runc create failed: unable to start container process: "
    "/sys/fs/cgroup/docker/0123456789abcdef/pids.max: invalid argument"
)


def _api_error(status: int, explanation: str, kind: type[APIError] = APIError) -> APIError:
    response = requests.Response()
    response.status_code = status
    return kind("engine said no", response=response, explanation=explanation)


class _Api:
    """`client.api` whose calls raise what the test queues (or answer `inspect_container`)."""

    def __init__(self, **raises: BaseException) -> None:
        self.raises = raises
        self.inspected = 0

    def _maybe_raise(self, name: str) -> None:
        if name in self.raises:
            raise self.raises[name]

    def start(self, container_id: str) -> None:
        self._maybe_raise("start")

    def logs(self, container_id: str, **options: Any) -> bytes:
        self._maybe_raise("logs")
        return b"line\n"

    def remove_container(self, container_id: str, **options: Any) -> None:
        self._maybe_raise("remove_container")

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self.inspected += 1
        if self.inspected > 2:  # the removal someone else started has finished
            raise _api_error(404, "No such container", NotFound)
        return _inspect("removing", {}, {"bridge": {}})


class _Client:
    """`client.containers.create` that fails as queued; `client.volumes.get` finds the volume."""

    def __init__(self, api: _Api, create_error: BaseException | None = None) -> None:
        self.api = api
        self.containers = self
        self.volumes = self
        self.create_error = create_error

    def get(self, name: str) -> Any:
        return type("Volume", (), {"name": name, "attrs": {"Labels": {}}})()

    def create(self, image: str, **options: Any) -> Any:
        if self.create_error is not None:
            raise self.create_error
        return type("Created", (), {"id": "abc123"})()


def _backend(api: _Api, create_error: BaseException | None = None) -> DockerBackend:
    return DockerBackend(_Client(api, create_error))  # type: ignore[arg-type]


def test_a_refused_create_has_a_clean_message_and_the_engine_text_only_in_diagnostics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = _backend(_Api(), create_error=_api_error(500, _RUNC))
    with caplog.at_level(logging.WARNING, "container_manager"), pytest.raises(
        ProcessorStartError
    ) as caught:
        backend.launch(_spec())
    shown = json.dumps([caught.value.message, caught.value.details])
    assert "runc" not in shown and "cgroup" not in shown and "0123456789" not in shown
    assert caught.value.diagnostics[0] == _RUNC
    assert _RUNC in caplog.text  # kept for the operator, in the log


def test_a_missing_image_says_how_to_build_it() -> None:
    backend = _backend(_Api(), create_error=ImageNotFound("no such image: kato:fastapi"))
    with pytest.raises(ProcessorStartError) as caught:
        backend.launch(_spec())
    assert "katoctl build" in caught.value.message
    assert caught.value.details == {"image": "kato:fastapi"}


def test_logs_and_start_of_a_removed_container_are_translated() -> None:
    gone = _api_error(404, "No such container: abc123", NotFound)
    backend = _backend(_Api(logs=gone, start=gone))
    with pytest.raises(ProcessorNotFoundError):
        list(backend.logs("abc123", tail=10, follow=False))
    with pytest.raises(ProcessorStartError) as caught:
        backend.launch(_spec())
    assert "abc123" not in caught.value.message


def test_remove_waits_for_a_removal_already_in_progress() -> None:
    api = _Api(remove_container=_api_error(409, "removal of container abc123 is in progress"))
    _backend(api).remove("kato-proc-p1", "kato-data-p1", keep_data=True, owner={})
    assert api.inspected == 3  # polled until the engine said it is gone


def test_any_other_refusal_is_an_engine_error_and_a_lost_engine_is_unavailable() -> None:
    refused = _backend(_Api(logs=_api_error(500, "driver failed")))
    with pytest.raises(EngineError) as caught:
        list(refused.logs("abc123", tail=1, follow=False))
    assert "driver failed" not in caught.value.message
    lost = _backend(_Api(logs=requests.ConnectionError("/var/run/docker.sock: refused")))
    with pytest.raises(EngineUnavailableError) as unavailable:
        list(lost.logs("abc123", tail=1, follow=False))
    assert unavailable.value.details == {}
    assert "docker.sock" in unavailable.value.diagnostics[0]


# -- a container's stats: what failed is what the log says --------------------------------

_STATS = {"memory_stats": {"usage": 50 * 2**20, "limit": 2**30}, "pids_stats": {"current": 7}}


class _StatsApi:
    """`client.api.stats` failing with `error` (or answering); `inspect_container` says the
    container is `status` (None: removed)."""

    def __init__(self, error: BaseException | None, status: str | None) -> None:
        self.error = error
        self.status = status

    def stats(self, name: str, **options: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return _STATS

    def inspect_container(self, name: str) -> dict[str, Any]:
        if self.status is None:
            raise _api_error(404, f"No such container: {name}", NotFound)
        return _inspect(self.status, {}, {"bridge": {}})


def _stats_of(
    error: BaseException | None, status: str | None, caplog: pytest.LogCaptureFixture
) -> dict[str, Any]:
    backend = DockerBackend(_Client(_StatsApi(error, status)))  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, "container_manager"):
        return backend.stats("kato-proc-p1")


#: What the engine answers when the container is removed during the read (seen on Docker 27).
_CUT_OFF = requests.exceptions.JSONDecodeError("Expecting value", "", 0)


def test_stats_of_a_running_container() -> None:
    stats = DockerBackend(_Client(_StatsApi(None, "running"))).stats("p1")  # type: ignore[arg-type]
    assert stats == {"memory_bytes": 50 * 2**20, "memory_limit_bytes": 2**30, "pids": 7}


@pytest.mark.parametrize(("status", "said"), [(None, "gone"), ("removing", "removing")])
def test_stats_of_a_container_removed_during_the_read_say_so(
    caplog: pytest.LogCaptureFixture, status: str | None, said: str
) -> None:
    assert _stats_of(_CUT_OFF, status, caplog) == {}
    assert (
        "no stats for kato-proc-p1: the container stopped or was removed during the read "
        f"(now {said})"
    ) in caplog.text
    assert "connection" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_stats_that_cannot_be_read_of_a_running_container_are_logged_as_such(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _stats_of(_CUT_OFF, "running", caplog) == {}
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "the container engine's answer to read a container's stats could not be read: "
        "Expecting value: line 1 column 1 (char 0)"
    )


def test_stats_that_time_out_say_so(caplog: pytest.LogCaptureFixture) -> None:
    late = requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)")
    with pytest.raises(EngineUnavailableError) as caught:
        _stats_of(late, "running", caplog)
    assert "did not answer in time" in caught.value.message
    assert "did not answer in time" in caplog.text and "read timeout=60" in caplog.text
    assert "lost connection" not in caplog.text


def test_stats_of_a_container_already_gone_are_empty_and_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gone = _api_error(404, "No such container: kato-proc-p1", NotFound)
    assert _stats_of(gone, None, caplog) == {}
    assert caplog.records == []


def test_a_lost_connection_is_still_called_one(caplog: pytest.LogCaptureFixture) -> None:
    lost = requests.ConnectionError("Connection aborted: RemoteDisconnected")
    with pytest.raises(EngineUnavailableError):
        _stats_of(lost, "running", caplog)
    assert "lost connection to the Docker engine while trying to read a container's stats" in (
        caplog.text
    )
