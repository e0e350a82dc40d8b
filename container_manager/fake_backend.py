"""In-memory `Backend` for unit tests (ours and the session manager's): no engine.

Containers answer HTTP through `transport()` (an `httpx.MockTransport`, handed to the manager
as `KatoContainerManager(..., http_transport=fake.transport())`, never part of `Backend`):
`GET /health` returns 200 once the container is running and ready; any other path needs the
container's `KATO_PROCESSOR_TOKEN` as a bearer token and then answers 404 (tests that need a
richer processor pass their own `handler`). Readiness is controllable:

    fake = FakeBackend(ready=False)     # no container ever answers /health
    fake.crash_on_start = True          # containers exit right after start (status "exited")

Tests whose callers need real sockets (the session manager's proxy) run a server on loopback
and say so: `FakeBackend(port=server.port)` publishes every container on that one port.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from kato.contract import ENV_PROCESSOR_ID, ENV_TOKEN, PROBE_PATHS, error_body

from .backend import Backend
from .errors import ContainerManagerError, ProcessorNotFoundError, ProcessorStartError
from .models import Address, ContainerState, Launched, ProcessorSpec, VolumeState, carries
from .spec import LABEL_PROCESSOR

__all__ = ["FakeBackend", "FakeContainer"]

Handler = Callable[["FakeContainer", httpx.Request], httpx.Response]


@dataclass
class FakeContainer:
    """One fake container: its spec, state and log lines (tests may edit `ready` and `logs`)."""

    container_id: str
    spec: ProcessorSpec
    status: str = "created"
    ready: bool = True
    host_port: int | None = None
    logs: list[str] = field(default_factory=list)

    def state(self) -> ContainerState:
        return ContainerState(
            container_id=self.container_id,
            name=self.spec.name,
            status=self.status,
            labels=dict(self.spec.labels),
            env=dict(self.spec.env),
            address=self._address(),
        )

    def _address(self) -> Address | None:
        if self.status != "running":
            return None
        if self.spec.network:
            return Address(self.spec.name, self.spec.port, published=False)
        assert self.host_port is not None
        return Address("127.0.0.1", self.host_port, published=True)


class FakeBackend(Backend):
    """A thread-safe in-memory engine; `containers` and `volumes` are there to assert on."""

    def __init__(
        self, *, ready: bool = True, handler: Handler | None = None, port: int | None = None
    ) -> None:
        self.ready = ready
        self.crash_on_start = False
        self.containers: dict[str, FakeContainer] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self._handler = handler
        self._ports: Iterator[int] = (
            itertools.repeat(port) if port is not None else itertools.count(40000)
        )
        self._lock = threading.Lock()

    # -- launch and remove ------------------------------------------------------------------
    def launch(self, spec: ProcessorSpec) -> Launched:
        with self._lock:
            if any(c.spec.name == spec.name for c in self.containers.values()):
                raise ProcessorStartError(f"container name {spec.name} is already in use")
            new_volume = spec.volume not in self.volumes
            if new_volume:
                self.volumes[spec.volume] = dict(spec.labels)
            container = FakeContainer(uuid.uuid4().hex, spec, ready=self.ready)
            self.containers[container.container_id] = container
        try:
            self.start(container.container_id)
            state = self.started_state(spec.name)
        except ContainerManagerError as exc:
            raise self.discard(spec, exc, new_volume=new_volume) from exc
        return Launched(state, new_volume)

    def start(self, container_id: str) -> None:
        """The start step of `launch`; tests override it to act while a launch is under way."""
        with self._lock:
            container = self.containers.get(container_id)
            if container is None:
                return
            if self.crash_on_start:
                container.status = "exited"
                container.logs.append("fake: processor exited during start-up")
                return
            container.status = "running"
            container.host_port = None if container.spec.network else next(self._ports)
            container.logs.append(f"fake: serving on port {container.spec.port}")

    def remove(self, name: str, volume: str, *, keep_data: bool, owner: Mapping[str, str]) -> bool:
        removed = False
        with self._lock:
            for container_id, container in list(self.containers.items()):
                if container.spec.name == name and carries(container.spec.labels, owner):
                    del self.containers[container_id]
                    removed = True
            labels = self.volumes.get(volume)
            if not keep_data and labels is not None and carries(labels, owner):
                del self.volumes[volume]
                removed = True
        return removed

    # -- queries ---------------------------------------------------------------------------
    def find(self, labels: Mapping[str, str]) -> list[ContainerState]:
        with self._lock:
            return [c.state() for c in self.containers.values() if carries(c.spec.labels, labels)]

    def inspect(self, name: str) -> ContainerState | None:
        with self._lock:
            container = self._named(name)
            return container.state() if container else None

    def find_volumes(self, labels: Mapping[str, str]) -> list[VolumeState]:
        with self._lock:
            return [
                VolumeState(name, dict(have))
                for name, have in self.volumes.items()
                if carries(have, labels)
            ]

    def logs(self, name: str, *, tail: int, follow: bool) -> Iterator[str]:
        with self._lock:
            container = self._named(name)
            if container is None:  # as Docker answers for a removed container
                raise ProcessorNotFoundError("cannot read a container's logs: it does not exist")
            lines = list(container.logs)
        return iter(lines[-tail:] if tail > 0 else [])

    def stats(self, name: str) -> dict[str, Any]:
        with self._lock:
            container = self._named(name)
        if container is None or container.status != "running":
            return {}
        return {"memory_bytes": 40 * 2**20, "memory_limit_bytes": 512 * 2**20, "cpu_percent": 0.0}

    def ping(self) -> None:
        """The in-memory engine always answers; tests replace this to simulate an outage."""

    def _named(self, name: str) -> FakeContainer | None:
        """The container called `name` (or with that id, as Docker also accepts)."""
        return self.containers.get(name) or next(
            (c for c in self.containers.values() if c.spec.name == name), None
        )

    # -- test controls ---------------------------------------------------------------------
    def stop(self, container_id: str) -> None:
        """Simulate a container that exited on its own (it stays listed, status "exited")."""
        with self._lock:
            self.containers[container_id].status = "exited"

    def vanish(self, container_id: str) -> None:
        """Simulate `docker rm -f` behind the manager's back (the volume stays)."""
        with self._lock:
            self.containers.pop(container_id, None)

    def pause(self, container_id: str) -> None:
        """Simulate `docker pause`: the container stays, frozen, status "paused"."""
        with self._lock:
            self.containers[container_id].status = "paused"

    can_freeze = True

    def freeze(self, name: str, owner: Mapping[str, str]) -> None:
        self._set_frozen(name, owner, "paused")

    def thaw(self, name: str, owner: Mapping[str, str]) -> None:
        self._set_frozen(name, owner, "running")

    def _set_frozen(self, name: str, owner: Mapping[str, str], status: str) -> None:
        with self._lock:
            for container in self.containers.values():
                if container.spec.name == name and carries(container.spec.labels, owner):
                    if container.status in ("running", "paused"):
                        container.status = status
                    return
        raise ProcessorNotFoundError(f"no container {name}", {})

    def container_for(self, processor_id: str) -> FakeContainer | None:
        """The fake container labelled with this processor id, if any."""
        with self._lock:
            for container in self.containers.values():
                if container.spec.labels.get(LABEL_PROCESSOR) == processor_id:
                    return container
        return None

    # -- HTTP ------------------------------------------------------------------------------
    def transport(self) -> httpx.BaseTransport:
        """HTTP to the fake containers' addresses without sockets (pass it to the manager)."""
        return httpx.MockTransport(self._serve)

    def _serve(self, request: httpx.Request) -> httpx.Response:
        container = self._container_at(request.url.host, request.url.port)
        if container is None or container.status != "running" or not container.ready:
            raise httpx.ConnectError("connection refused (fake)", request=request)
        if request.url.path in PROBE_PATHS:
            processor_id = container.spec.env[ENV_PROCESSOR_ID]
            return httpx.Response(200, json={"status": "healthy", "processor_id": processor_id})
        token = container.spec.env.get(ENV_TOKEN)
        if token and request.headers.get("authorization") != f"Bearer {token}":
            body = error_body("KATO_UNAUTHORIZED", "missing or bad token", 401)
            return httpx.Response(401, json=body)
        if self._handler is not None:
            return self._handler(container, request)
        return httpx.Response(404, json=error_body("KATO_NOT_FOUND", "no such route (fake)", 404))

    def _container_at(self, host: str, port: int | None) -> FakeContainer | None:
        with self._lock:
            for container in self.containers.values():
                address = container.state().address
                if address is not None and (address.host, address.port) == (host, port):
                    return container
        return None
