"""The seam to a container engine: a few coarse operations, in the style of JupyterHub's Spawner.

Each operation is shaped after what every engine can do, not after one engine's API calls:

    launch(spec)          Docker: volume + create + start     Swarm: service (+ token secret)
                          Kubernetes: PVC + Secret + Pod      (each waits for an address)
    remove(name, ...)     the workload and, unless keep_data, its data, if the owner's
    find / inspect        state rebuilt from the engine's labels alone (adoption after a restart)
    find_volumes(labels)  data volumes, for the orphan sweep
    logs / stats / ping

A backend knows nothing about KATO itself: no readiness probe (the manager polls `GET /health`
on the address `launch` returns), no sessions, no genes. The handle of a processor's workload is
its name (`ProcessorSpec.name`): unique on the engine, known without a lookup and the same
after a restart. Backends raise `EngineUnavailableError` when the engine cannot be reached and
`ProcessorStartError` when a workload cannot be launched.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import suppress
from typing import Any

from .errors import ContainerManagerError, ProcessorStartError
from .models import ContainerState, Launched, ProcessorSpec, VolumeState

__all__ = ["Backend"]

log = logging.getLogger("container_manager.backend")

#: Log lines of a workload that failed to start kept in the error's diagnostics.
LOG_LINES_ON_FAILURE = 50


class Backend(ABC):
    """Launch, find, observe and remove processor workloads and their data volumes.

    Guarantees every implementation gives (tests/integration/container_manager/
    test_backend_contract.py checks them on each backend):

    * `launch` is all or nothing: it returns a running workload with an address, or raises
      `ProcessorStartError` having removed what it made (the volume only if it made it),
      with the workload's last log lines in `diagnostics`;
    * `remove` and a second `remove` succeed silently for things already gone, and never touch
      a workload or volume that does not carry every `owner` label;
    * everything `find`/`inspect`/`find_volumes` report comes from the engine alone (labels, env,
      address), so a restarted manager adopts what exists;
    * operations on different workloads are thread-safe.
    """

    @abstractmethod
    def launch(self, spec: ProcessorSpec) -> Launched:
        """Run the processor exactly as `spec` says on its data volume (made, labelled with
        `spec.labels`, if missing) and return once it runs and has an address."""

    @abstractmethod
    def remove(self, name: str, volume: str, *, keep_data: bool, owner: Mapping[str, str]) -> bool:
        """Stop and delete the workload `name` and, unless `keep_data`, the data volume
        `volume`, each only if it carries every `owner` label (a backend never deletes another
        deployment's processors or data). True if this call removed anything."""

    @abstractmethod
    def find(self, labels: Mapping[str, str]) -> list[ContainerState]:
        """Every workload (running or not) carrying all of `labels`."""

    @abstractmethod
    def inspect(self, name: str) -> ContainerState | None:
        """Current state of the workload `name`, or None if it does not exist."""

    @abstractmethod
    def find_volumes(self, labels: Mapping[str, str]) -> list[VolumeState]:
        """Every data volume carrying all of `labels`."""

    @abstractmethod
    def logs(self, name: str, *, tail: int, follow: bool) -> Iterator[str]:
        """The workload's last `tail` log lines (text, no newline); then new ones if `follow`.
        `ProcessorNotFoundError` if it does not exist."""

    @abstractmethod
    def stats(self, name: str) -> dict[str, Any]:
        """Best-effort resource usage (`memory_bytes`, `memory_limit_bytes`, ...); {} if the
        workload is gone or not running."""

    @abstractmethod
    def ping(self) -> None:
        """Return when the engine answers; `EngineUnavailableError` otherwise (readiness
        probes call it, so it must stay cheap)."""

    #: Whether `freeze`/`thaw` work here (a Swarm service cannot be paused: the tier is off).
    can_freeze = False

    def freeze(self, name: str, owner: Mapping[str, str]) -> None:
        """Pause the workload `name` in place (memory kept, no CPU), only if it carries every
        `owner` label; `ProcessorNotFoundError` if it is gone."""
        raise NotImplementedError(f"{type(self).__name__} cannot pause a workload")

    def thaw(self, name: str, owner: Mapping[str, str]) -> None:
        """Resume a workload `freeze` paused (a running one is left as it is)."""
        raise NotImplementedError(f"{type(self).__name__} cannot pause a workload")

    def started_state(self, name: str) -> ContainerState:
        """The state of a workload just started, which must be running with an address;
        `ProcessorStartError` (with the status it has instead) otherwise."""
        state = self.inspect(name)
        if state is None or state.address is None:
            status = state.status if state else "gone"
            raise ProcessorStartError(
                f"processor container exited during start-up (status {status})",
                {"status": status},
            )
        return state

    def discard(
        self, spec: ProcessorSpec, exc: ContainerManagerError, *, new_volume: bool
    ) -> ProcessorStartError:
        """Undo a launch that failed with `exc`: keep the workload's last log lines, remove the
        workload (and its volume if `new_volume`), and return the error to raise.

        A failing clean-up is logged and never hides the original failure; whatever it left
        behind carries the spec's labels, so the orphan sweep finds it.
        """
        lines: list[str] = []
        with suppress(ContainerManagerError):  # never made, or already gone
            lines = list(self.logs(spec.name, tail=LOG_LINES_ON_FAILURE, follow=False))
        try:
            self.remove(spec.name, spec.volume, keep_data=not new_volume, owner=spec.labels)
        except ContainerManagerError as cleanup:
            log.warning(
                "clean-up after a failed start failed: %s",
                cleanup.message,
                extra={"workload": spec.name, "diagnostics": cleanup.diagnostics},
            )
        return ProcessorStartError(exc.message, exc.details, [*exc.diagnostics, *lines])
