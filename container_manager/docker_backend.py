"""`Backend` on one Docker engine: a processor is a container on its named data volume.

The client, the error map and the container and volume queries are `_docker`'s (shared with
`SwarmBackend`); this module adds what only containers do: create with the whole spec, start,
remove.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import LogConfig

from ._docker import NO_HEALTHCHECK, NodeBackend, engine_errors, label_filter, log
from .errors import ContainerManagerError, EngineError, ProcessorNotFoundError, ProcessorStartError
from .models import ContainerState, Launched, ProcessorSpec, carries

__all__ = ["DockerBackend"]

#: How long `remove` waits for a removal someone else started (409) to finish.
_REMOVAL_WAIT = 15.0


class DockerBackend(NodeBackend):
    """Containers on the local (or `DOCKER_HOST`) engine; the client is made on first use."""

    def ping(self) -> None:
        with engine_errors("answer a ping", unavailable_on_api_error=True):
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
        with engine_errors("create a data volume"):
            try:
                self.client.volumes.get(name)
                return False
            except NotFound:
                self.client.volumes.create(name, labels=dict(labels))
                return True

    can_freeze = True

    def freeze(self, name: str, owner: Mapping[str, str]) -> None:
        self._freeze_or_thaw(name, owner, pause=True)

    def thaw(self, name: str, owner: Mapping[str, str]) -> None:
        self._freeze_or_thaw(name, owner, pause=False)

    def _freeze_or_thaw(self, name: str, owner: Mapping[str, str], *, pause: bool) -> None:
        state = self.inspect(name)
        if state is None or not carries(state.labels, owner):
            raise ProcessorNotFoundError(f"no container {name} of this deployment", {})
        if (state.status == "paused") == pause:
            return  # already so
        with engine_errors("pause a container" if pause else "unpause a container"):
            if pause:
                self.client.api.pause(state.container_id)
            else:
                self.client.api.unpause(state.container_id)

    def _remove_container(self, name: str, owner: Mapping[str, str]) -> bool:
        state = self.inspect(name)
        if state is None:
            return False
        if not carries(state.labels, owner):
            log.warning("container %s is not this deployment's: left alone", name)
            return False
        try:
            with engine_errors("remove a container"):
                # v: an anonymous volume (a bare `VOLUME /data`) goes with it; named ones stay
                self.client.api.remove_container(state.container_id, force=True, v=True)
        except ProcessorNotFoundError:
            return False
        except EngineError as exc:
            if not isinstance(exc.__cause__, APIError) or exc.__cause__.status_code != 409:
                raise
            self._wait_until_gone(state.container_id)  # 409: a removal is already in progress
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
        with engine_errors("list containers"):
            filters = {"label": label_filter(labels)}
            summaries = self.client.api.containers(all=True, filters=filters)
        states = (self.inspect(summary["Id"]) for summary in summaries)
        return [state for state in states if state is not None]


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
        "healthcheck": {"test": list(NO_HEALTHCHECK)},
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
        with engine_errors("create and start the processor's container"):
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
