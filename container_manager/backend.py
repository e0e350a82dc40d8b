"""The seam to a container engine, in the style of JupyterHub's Spawner.

`KatoContainerManager` builds a processor from small backend steps:

    create_volume → create(spec) → start → address → (manager polls GET /health) → ...

A backend implements exactly the abstract methods below and nothing about KATO itself:
no readiness logic, no records, no genes. A Swarm or Kubernetes backend would override only
these steps. Backends raise `EngineUnavailableError` when the engine cannot be reached and
`ProcessorStartError` when a container cannot be created or started.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from .models import Address, ContainerState, ProcessorSpec, VolumeState

__all__ = ["Backend"]


class Backend(ABC):
    """Create, start, find, observe and remove processor containers and their volumes.

    A backend implements:

    * `create_volume` / `remove_volume` / `list_volumes` — the processor's data volume (kept
      across hibernation, removed only when the processor is removed for good, and only if it
      carries the caller's `owner` labels: a backend never deletes another deployment's data);
    * `create(spec)` → container id, then `start(id)`;
    * `address(id)` — host port, or container name on the configured network (by default
      taken from `inspect`);
    * `inspect(id)` and `list(labels)` — state rebuilt from the engine alone (labels, env,
      address), which is what lets a restarted manager adopt existing containers;
    * `remove(id)` — stop and delete the container (its volume is separate);
    * `logs(id)` and `stats(id)`;
    * `ping()` — the engine answers (readiness probes call it, so it must stay cheap).

    Waiting until the processor is ready is not a backend step: the manager polls
    `GET /health` on `address()`. `remove` and `remove_volume` succeed silently for things
    already gone, so clean-up paths can be retried. Implementations must be thread-safe for
    operations on different containers.
    """

    @abstractmethod
    def create_volume(self, name: str, labels: Mapping[str, str]) -> bool:
        """Make sure the named data volume exists; return True if this call created it."""

    @abstractmethod
    def remove_volume(self, name: str, *, owner: Mapping[str, str]) -> bool:
        """Delete the named volume and its data if it carries every `owner` label.

        True if this call removed it; False (no error) if it does not exist or is not owned.
        """

    @abstractmethod
    def list_volumes(self, labels: Mapping[str, str]) -> list[VolumeState]:
        """Every volume carrying all of `labels`."""

    @abstractmethod
    def create(self, spec: ProcessorSpec) -> str:
        """Create (not start) a container exactly as `spec` says; return its id."""

    @abstractmethod
    def start(self, container_id: str) -> None:
        """Start a created container."""

    @abstractmethod
    def inspect(self, container_id: str) -> ContainerState | None:
        """Current state of one container, or None if it does not exist."""

    @abstractmethod
    def list(self, labels: Mapping[str, str]) -> list[ContainerState]:
        """Every container (running or not) carrying all of `labels`."""

    @abstractmethod
    def remove(self, container_id: str) -> None:
        """Stop (if running) and delete a container; no error if it is already gone."""

    @abstractmethod
    def logs(self, container_id: str, *, tail: int, follow: bool) -> Iterator[str]:
        """The container's last `tail` log lines (text, no newline); then new ones if `follow`."""

    @abstractmethod
    def stats(self, container_id: str) -> dict[str, Any]:
        """Best-effort resource usage: at least `memory_bytes` and `memory_limit_bytes`."""

    @abstractmethod
    def ping(self) -> None:
        """Return when the engine answers; `EngineUnavailableError` otherwise."""

    def address(self, container_id: str) -> Address | None:
        """Where the running container's service answers (host port, or name on the network).

        None if the container is not running or has no reachable address. By default the
        address `inspect` reports; a backend that can answer more cheaply overrides this.
        """
        state = self.inspect(container_id)
        return state.address if state else None

    def http_transport(self) -> httpx.BaseTransport | None:
        """Transport for HTTP calls to container addresses; None means the real network.

        Only an in-memory backend overrides this (see `FakeBackend`), so the manager's
        readiness probe and the session manager's proxy work against it without sockets.
        """
        return None
