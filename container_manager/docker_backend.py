"""`Backend` on the Docker SDK: the only module that talks to the Docker engine.

Every Docker SDK error is translated here, once, into the `ContainerManagerError` hierarchy
(see `_engine_errors`): nothing docker-specific (a `NotFound`, an `APIError` 409) escapes to the
manager or its callers. What the engine said is logged here and kept in `diagnostics`; the
message callers may show is ours.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig

from .backend import Backend
from .errors import (
    ContainerManagerError,
    EngineError,
    EngineUnavailableError,
    ProcessorNotFoundError,
    ProcessorStartError,
)
from .models import (
    SERVICE_PORT,
    Address,
    ContainerState,
    Launched,
    ProcessorSpec,
    VolumeState,
)

__all__ = ["DockerBackend"]

log = logging.getLogger("container_manager.docker")

_STOP_TIMEOUT = 5
#: How long `remove` waits for a removal someone else started (409) to finish.
_REMOVAL_WAIT = 15.0
#: The image's own HEALTHCHECK (if any) is switched off: the manager probes readiness itself,
#: and a check that starts an interpreter every few seconds costs idle CPU in every container.
_NO_HEALTHCHECK = {"test": ["NONE"]}


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
                    log.warning("cannot reach the Docker engine: %s", exc)
                    raise EngineUnavailableError(
                        "cannot reach the Docker engine (try scripts/ensure-docker.sh)",
                        diagnostics=[str(exc)],
                    ) from exc
            return self._client

    def ping(self) -> None:
        with _engine_errors("answer a ping", unavailable_on_api_error=True):
            self.client.ping()

    # -- launch and remove ------------------------------------------------------------------
    def launch(self, spec: ProcessorSpec) -> Launched:
        """volume (if missing) → create → start → inspect; undone as a whole on failure."""
        new_volume = self._ensure_volume(spec.volume, spec.labels)
        try:
            with _start_errors(spec):
                self.client.containers.create(spec.image, **_create_options(spec))
                self.client.api.start(spec.name)
            state = self.started_state(spec.name)
        except ContainerManagerError as exc:
            raise self.discard(spec, exc, new_volume=new_volume) from exc
        return Launched(state, new_volume)

    def remove(self, name: str, volume: str, *, keep_data: bool, owner: Mapping[str, str]) -> bool:
        removed = self._remove_container(name, owner)
        if not keep_data:
            removed = self._remove_volume(volume, owner) or removed
        return removed

    def _ensure_volume(self, name: str, labels: Mapping[str, str]) -> bool:
        with _engine_errors("create a data volume"):
            try:
                self.client.volumes.get(name)
                return False
            except NotFound:
                self.client.volumes.create(name, labels=dict(labels))
                return True

    def _remove_container(self, name: str, owner: Mapping[str, str]) -> bool:
        state = self.inspect(name)
        if state is None:
            return False
        if not _carries(state.labels, owner):
            log.warning("container %s is not this deployment's: left alone", name)
            return False
        try:
            with _engine_errors("remove a container"):
                # v: an anonymous volume (a bare `VOLUME /data`) goes with it; named ones stay
                self.client.api.remove_container(state.container_id, force=True, v=True)
        except ProcessorNotFoundError:
            return False
        except EngineError as exc:
            if not isinstance(exc.__cause__, APIError) or exc.__cause__.status_code != 409:
                raise
            self._wait_until_gone(state.container_id)  # 409: a removal is already in progress
        return True

    def _remove_volume(self, name: str, owner: Mapping[str, str]) -> bool:
        with _engine_errors("remove a data volume"):
            try:
                volume = self.client.volumes.get(name)
            except NotFound:
                return False
            if not _carries(volume.attrs.get("Labels"), owner):
                log.warning("volume %s is not this deployment's: left alone", name)
                return False
            try:
                volume.remove(force=True)
            except NotFound:
                return False
            return True

    def _wait_until_gone(self, container_id: str) -> None:
        """Return once a removal started elsewhere has finished, so the volume is free."""
        deadline = time.monotonic() + _REMOVAL_WAIT
        while self.inspect(container_id) is not None:
            if time.monotonic() > deadline:
                raise EngineError("a container is still being removed", {})
            time.sleep(0.1)

    # -- queries ---------------------------------------------------------------------------
    def find(self, labels: Mapping[str, str]) -> list[ContainerState]:
        with _engine_errors("list containers"):
            filters = {"label": _label_filter(labels)}
            summaries = self.client.api.containers(all=True, filters=filters)
        states = (self.inspect(summary["Id"]) for summary in summaries)
        return [state for state in states if state is not None]

    def inspect(self, name: str) -> ContainerState | None:
        try:
            with _engine_errors("inspect a container"):
                return _state(self.client.api.inspect_container(name))
        except ProcessorNotFoundError:
            return None

    def find_volumes(self, labels: Mapping[str, str]) -> list[VolumeState]:
        with _engine_errors("list data volumes"):
            found = self.client.volumes.list(filters={"label": _label_filter(labels)})
        return [
            VolumeState(str(v.name), dict(v.attrs.get("Labels") or {}))
            for v in found
            if _carries(v.attrs.get("Labels"), labels)
        ]

    def logs(self, name: str, *, tail: int, follow: bool) -> Iterator[str]:
        with _engine_errors("read a container's logs"):
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
            with _engine_errors("read a container's stats", logged=False):
                raw = self.client.api.stats(name, stream=False, one_shot=True)
        except ProcessorNotFoundError:  # gone before the read
            return {}
        except EngineUnavailableError as exc:
            _log_failure(exc)
            raise
        except ContainerManagerError as exc:
            state = self.inspect(name)
            if state is None or not state.running:
                status = state.status if state else "gone"
                log.info(
                    "no stats for %s: the container stopped or was removed during the read "
                    "(now %s)",
                    name,
                    status,
                )
            else:
                _log_failure(exc)
            return {}
        memory = raw.get("memory_stats") or {}
        usage = int(memory.get("usage", 0))
        cache = int((memory.get("stats") or {}).get("total_inactive_file", 0))
        return {
            "memory_bytes": max(usage - cache, 0),
            "memory_limit_bytes": int(memory.get("limit", 0)),
            "pids": int((raw.get("pids_stats") or {}).get("current", 0)),
        }


def _create_options(spec: ProcessorSpec) -> dict[str, Any]:
    """`containers.create` keyword arguments applying the whole spec (limits, hardening)."""
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
        "log_config": LogConfig(
            type="json-file",
            config={"max-size": spec.logs.max_size, "max-file": str(spec.logs.max_files)},
        ),
        "healthcheck": dict(_NO_HEALTHCHECK),
        "detach": True,
    }
    if spec.network:
        options["network"] = spec.network
    else:
        options["ports"] = {f"{spec.port}/tcp": ("127.0.0.1", None)}
    return options


@contextmanager
def _start_errors(spec: ProcessorSpec) -> Iterator[None]:
    """Any failure to create or start the container is a `ProcessorStartError`; a missing
    image says how to build it (the operator's own setting, worth naming)."""
    try:
        with _engine_errors("create and start the processor's container"):
            yield
    except ProcessorNotFoundError as exc:
        if not isinstance(exc.__cause__, ImageNotFound):
            raise ProcessorStartError(exc.message, diagnostics=exc.diagnostics) from exc
        raise ProcessorStartError(
            f"image {spec.image} not found: build it with `katoctl build`",
            {"image": spec.image},
            exc.diagnostics,
        ) from exc
    except EngineError as exc:
        raise ProcessorStartError(exc.message, diagnostics=exc.diagnostics) from exc


def _label_filter(labels: Mapping[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in labels.items()]


def _carries(labels: Mapping[str, str] | None, wanted: Mapping[str, str]) -> bool:
    have = labels or {}
    return all(have.get(key) == value for key, value in wanted.items())


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
def _engine_errors(
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
            _log_failure(error)
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


def _log_failure(error: ContainerManagerError) -> None:
    """One warning per engine failure: our message, then what the engine said."""
    log.warning("%s: %s", error.message, "; ".join(error.diagnostics))


def _said(exc: APIError) -> str:
    return str(exc.explanation or exc)
