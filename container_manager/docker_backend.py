"""`Backend` on the Docker SDK: the only module that talks to the Docker engine."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from .backend import Backend
from .errors import ContainerManagerError, EngineUnavailableError, ProcessorStartError
from .models import SERVICE_PORT, Address, ContainerState, ProcessorSpec

__all__ = ["DockerBackend"]

_STOP_TIMEOUT = 5


class DockerBackend(Backend):
    """Containers on the local (or `DOCKER_HOST`) engine; the client is made on first use."""

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = docker.from_env()
                    self._client.ping()
                except DockerException as exc:
                    self._client = None
                    raise EngineUnavailableError(
                        "cannot reach the Docker engine (try scripts/ensure-docker.sh)",
                        {"reason": str(exc)},
                    ) from exc
            return self._client

    def ping(self) -> None:
        with _engine_errors():
            try:
                self.client.ping()
            except APIError as exc:  # an engine that answers _ping with an error is not ready
                raise EngineUnavailableError(
                    "the Docker engine is not ready", {"reason": str(exc)}
                ) from exc

    # -- volumes ---------------------------------------------------------------------------
    def create_volume(self, name: str, labels: Mapping[str, str]) -> bool:
        with _engine_errors():
            try:
                self.client.volumes.get(name)
                return False
            except NotFound:
                self.client.volumes.create(name, labels=dict(labels))
                return True

    def remove_volume(self, name: str) -> None:
        with _engine_errors(), suppress(NotFound):
            self.client.volumes.get(name).remove(force=True)

    # -- containers ------------------------------------------------------------------------
    def create(self, spec: ProcessorSpec) -> str:
        port_key = f"{spec.port}/tcp"
        options: dict[str, Any] = {
            "name": spec.name,
            "environment": dict(spec.env),
            "labels": dict(spec.labels),
            "user": spec.user,
            "cap_drop": list(spec.cap_drop),
            "security_opt": ["no-new-privileges"] if spec.no_new_privileges else [],
            "read_only": spec.read_only,
            "tmpfs": {path: f"rw,size={size}" for path, size in spec.tmpfs.items()},
            "mem_limit": spec.limits.memory_bytes,
            "memswap_limit": spec.limits.memory_bytes,
            "nano_cpus": spec.limits.nano_cpus,
            "pids_limit": spec.limits.pids,
            "volumes": {spec.volume: {"bind": spec.data_dir, "mode": "rw"}},
            "detach": True,
        }
        if spec.network:
            options["network"] = spec.network
        else:
            options["ports"] = {port_key: ("127.0.0.1", None)}
        try:
            with _engine_errors():
                container = self.client.containers.create(spec.image, **options)
        except ImageNotFound as exc:
            raise ProcessorStartError(
                f"image {spec.image} not found: build it with `katoctl build`",
                {"image": spec.image},
            ) from exc
        except APIError as exc:
            raise ProcessorStartError(
                f"cannot create container {spec.name}: {exc.explanation or exc}",
                {"container_name": spec.name},
            ) from exc
        return str(container.id)

    def start(self, container_id: str) -> None:
        try:
            with _engine_errors():
                self.client.api.start(container_id)
        except APIError as exc:
            raise ProcessorStartError(
                f"cannot start container: {exc.explanation or exc}", {"container_id": container_id}
            ) from exc

    def inspect(self, container_id: str) -> ContainerState | None:
        with _engine_errors():
            try:
                return _state(self.client.api.inspect_container(container_id))
            except NotFound:
                return None

    def list(self, labels: Mapping[str, str]) -> list[ContainerState]:
        filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
        states: list[ContainerState] = []
        with _engine_errors():
            for summary in self.client.api.containers(all=True, filters=filters):
                state = self.inspect(summary["Id"])
                if state is not None:
                    states.append(state)
        return states

    def remove(self, container_id: str) -> None:
        with _engine_errors():
            try:
                self.client.api.remove_container(container_id, force=True)
            except NotFound:
                pass
            except APIError as exc:
                if exc.status_code != 409:  # 409: removal already in progress
                    raise

    def logs(self, container_id: str, *, tail: int, follow: bool) -> Iterator[str]:
        with _engine_errors():
            if not follow:
                raw = self.client.api.logs(container_id, tail=tail, stdout=True, stderr=True)
                return iter(raw.decode("utf-8", "replace").splitlines())
            chunks = self.client.api.logs(container_id, stream=True, follow=True, tail=tail)
        return _lines(chunks)

    def stats(self, container_id: str) -> dict[str, Any]:
        with _engine_errors():
            try:
                raw = self.client.api.stats(container_id, stream=False, one_shot=True)
            except APIError:  # NotFound included: a container gone has no stats
                return {}
        memory = raw.get("memory_stats") or {}
        usage = int(memory.get("usage", 0))
        cache = int((memory.get("stats") or {}).get("total_inactive_file", 0))
        return {
            "memory_bytes": max(usage - cache, 0),
            "memory_limit_bytes": int(memory.get("limit", 0)),
            "pids": int((raw.get("pids_stats") or {}).get("current", 0)),
        }


def _state(attrs: Mapping[str, Any]) -> ContainerState:
    """A `ContainerState` from `docker inspect` output (labels, env, published port)."""
    config = attrs.get("Config") or {}
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    status = (attrs.get("State") or {}).get("Status", "unknown")
    name = str(attrs.get("Name", "")).lstrip("/")
    return ContainerState(
        container_id=str(attrs["Id"]),
        name=name,
        status=status,
        labels=dict(config.get("Labels") or {}),
        env=env,
        address=_address(attrs, name) if status == "running" else None,
    )


def _address(attrs: Mapping[str, Any], name: str) -> Address | None:
    settings = attrs.get("NetworkSettings") or {}
    for bindings in (settings.get("Ports") or {}).values():
        for binding in bindings or []:
            if binding.get("HostPort"):
                return Address(binding.get("HostIp") or "127.0.0.1", int(binding["HostPort"]), True)
    networks = settings.get("Networks") or {}
    if any(net not in ("bridge", "host", "none") for net in networks):
        return Address(name, SERVICE_PORT, published=False)
    return None


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Whole text lines from a stream of log chunks (a chunk may end mid-line)."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode("utf-8", "replace")
        *lines, buffer = buffer.split("\n")
        yield from lines
    if buffer:
        yield buffer


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Translate "engine unreachable" failures into `EngineUnavailableError`; API errors pass."""
    try:
        yield
    except (APIError, ContainerManagerError):
        raise
    except (DockerException, requests.RequestException) as exc:
        raise EngineUnavailableError(
            "lost connection to the Docker engine", {"reason": str(exc)}
        ) from exc
