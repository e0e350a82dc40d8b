"""What the two backends on the Docker engine share: the client, the one error map, label
filters, and this node's containers and volumes (on Swarm too, a task's logs, stats and data
volume are its node's).

Every Docker SDK error is translated here, once, into the `ContainerManagerError` hierarchy
(see `engine_errors`): nothing docker-specific (a `NotFound`, an `APIError` 409) escapes to the
manager or its callers. What the engine said is logged here and kept in `diagnostics`; the
message callers may show is ours. Private: the backends are the API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, NotFound

from .backend import Backend
from .errors import (
    ContainerManagerError,
    EngineError,
    EngineUnavailableError,
    ProcessorNotFoundError,
)
from .models import SERVICE_PORT, Address, ContainerState, VolumeState, carries

log = logging.getLogger("container_manager.docker")

#: The image's own HEALTHCHECK (if any) is switched off: the manager probes readiness itself,
#: and a check that starts an interpreter every few seconds costs idle CPU in every container.
NO_HEALTHCHECK = ["NONE"]


class NodeBackend(Backend):
    """A backend on a Docker engine (the local one, or `DOCKER_HOST`'s): its client, made on
    first use, and the container and volume operations of this node."""

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
                    log.warning("cannot reach the Docker engine: %s", exc)
                    raise EngineUnavailableError(
                        "cannot reach the Docker engine (try scripts/ensure-docker.sh)",
                        diagnostics=[str(exc)],
                    ) from exc
            return self._client

    def _container(self, name: str) -> ContainerState | None:
        """The container `name` on this node (never overridden: a service is no container)."""
        try:
            with engine_errors("inspect a container"):
                return container_state(self.client.api.inspect_container(name))
        except ProcessorNotFoundError:
            return None

    inspect = _container

    def find_volumes(self, labels: Mapping[str, str]) -> list[VolumeState]:
        with engine_errors("list data volumes"):
            found = self.client.volumes.list(filters={"label": label_filter(labels)})
        return [
            VolumeState(str(v.name), dict(v.attrs.get("Labels") or {}))
            for v in found
            if carries(v.attrs.get("Labels"), labels)
        ]

    def logs(self, name: str, *, tail: int, follow: bool) -> Iterator[str]:
        with engine_errors("read a container's logs"):
            if not follow:
                raw = self.client.api.logs(name, tail=tail, stdout=True, stderr=True)
                return iter(raw.decode("utf-8", "replace").splitlines())
            chunks = self.client.api.logs(name, stream=True, follow=True, tail=tail)
        return _lines(chunks)

    def stats(self, name: str) -> dict[str, Any]:
        """{} for a container gone or stopped; `EngineUnavailableError` when the engine does
        not answer (in time). A container removed while its stats are read makes the engine
        end its answer with no body (a JSONDecodeError, measured on Docker 27); that is logged
        as the removal it is, after an inspect, not as an engine failure."""
        try:
            with engine_errors("read a container's stats", logged=False):
                raw = self.client.api.stats(name, stream=False, one_shot=True)
        except ProcessorNotFoundError:  # gone before the read
            return {}
        except EngineUnavailableError as exc:
            log_failure(exc)
            raise
        except ContainerManagerError as exc:
            state = self._container(name)
            if state is None or not state.running:
                status = state.status if state else "gone"
                log.info(
                    "no stats for %s: the container stopped or was removed during the read "
                    "(now %s)",
                    name,
                    status,
                )
            else:
                log_failure(exc)
            return {}
        memory = raw.get("memory_stats") or {}
        usage = int(memory.get("usage", 0))
        cache = int((memory.get("stats") or {}).get("total_inactive_file", 0))
        return {
            "memory_bytes": max(usage - cache, 0),
            "memory_limit_bytes": int(memory.get("limit", 0)),
            "pids": int((raw.get("pids_stats") or {}).get("current", 0)),
        }

    def _remove_volume(self, name: str, owner: Mapping[str, str]) -> bool:
        with engine_errors("remove a data volume"):
            try:
                volume = self.client.volumes.get(name)
            except NotFound:
                return False
            if not carries(volume.attrs.get("Labels"), owner):
                log.warning("volume %s is not this deployment's: left alone", name)
                return False
            try:
                volume.remove(force=True)
            except NotFound:
                return False
            return True


def label_filter(labels: Mapping[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in labels.items()]


def env_of(items: Iterable[str] | None) -> dict[str, str]:
    """`KEY=value` lines (a container's or a service's `Env`) as a dict."""
    return dict(item.split("=", 1) for item in items or [] if "=" in item)


def container_state(attrs: Mapping[str, Any]) -> ContainerState:
    """A `ContainerState` from `docker inspect` output (labels, env, published port)."""
    config = attrs.get("Config") or {}
    env = env_of(config.get("Env"))
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
    try:
        for chunk in chunks:
            buffer += chunk.decode("utf-8", "replace")
            *lines, buffer = buffer.split("\n")
            yield from lines
    except (DockerException, requests.RequestException) as exc:
        log.warning("log stream ended: %s", exc)  # e.g. the container was removed meanwhile
    if buffer:
        yield buffer


@contextmanager
def engine_errors(
    action: str, *, unavailable_on_api_error: bool = False, logged: bool = True
) -> Iterator[None]:
    """Translate every Docker SDK error into our hierarchy and log it (unless `logged` is
    false: the caller logs it once it knows more, see `stats`).

    No such object → `ProcessorNotFoundError` (not logged: callers expect it); any other
    refusal, or an answer that is not what the API promises → `EngineError`; no answer at all,
    or none in time → `EngineUnavailableError`. Messages name only `action`, and say which of
    these happened; the engine's own words (which carry runc and cgroup paths and container
    ids) go to the log and `diagnostics`.
    """
    try:
        yield
    except ContainerManagerError:
        raise
    except (DockerException, requests.RequestException) as exc:
        error = _translated(action, exc, unavailable_on_api_error)
        if logged and not isinstance(error, ProcessorNotFoundError):
            log_failure(error)
        raise error from exc


def _translated(
    action: str, exc: DockerException | requests.RequestException, unavailable_on_api_error: bool
) -> ContainerManagerError:
    # An engine that answers _ping with an error (even a 404) is not ready.
    not_ready = "the Docker engine is not ready"
    if isinstance(exc, NotFound):
        if unavailable_on_api_error:
            return EngineUnavailableError(not_ready, diagnostics=[_said(exc)])
        return ProcessorNotFoundError(
            f"cannot {action}: it does not exist", diagnostics=[_said(exc)]
        )
    if isinstance(exc, APIError):
        if unavailable_on_api_error:
            return EngineUnavailableError(not_ready, diagnostics=[_said(exc)])
        return EngineError(f"the container engine refused to {action}", diagnostics=[_said(exc)])
    if isinstance(exc, requests.Timeout):
        return EngineUnavailableError(
            f"the Docker engine did not answer in time to {action}", diagnostics=[str(exc)]
        )
    if isinstance(exc, requests.exceptions.InvalidJSONError):  # e.g. an answer cut off
        if unavailable_on_api_error:
            return EngineUnavailableError(not_ready, diagnostics=[str(exc)])
        return EngineError(
            f"the container engine's answer to {action} could not be read",
            diagnostics=[str(exc)],
        )
    return EngineUnavailableError(
        f"lost connection to the Docker engine while trying to {action}", diagnostics=[str(exc)]
    )


def log_failure(error: ContainerManagerError) -> None:
    """One warning per engine failure: our message, then what the engine said."""
    log.warning("%s: %s", error.message, "; ".join(error.diagnostics))


def _said(exc: APIError) -> str:
    return str(exc.explanation or exc)
