"""`KatoContainerManager`: one secure container per processor, built from backend steps.

Synchronous on purpose (the Docker SDK is); async callers use `asyncio.to_thread`. Operations
on different processors run concurrently; operations on the same processor are serialised by
a per-processor lock.

Everything it lists, prunes or removes is selected by its deployment's labels (see
`deployment.py`), so managers sharing an engine never touch each other's containers or data.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .backend import Backend
from .backends import load_backend
from .config import parse_config, validate_processor_id
from .deployment import resolve_deployment
from .errors import ContainerManagerError, ProcessorNotFoundError, ProcessorStartError
from .models import (
    SUSPENDED_STATUSES,
    ContainerState,
    ProcessorInfo,
    ProcessorSpec,
    VolumeState,
)
from .readiness import wait_until_ready
from .records import ProcessorRecord, RecordStore
from .settings import ContainerSettings
from .spec import (
    LABEL_CREATED,
    LABEL_DEPLOYMENT,
    LABEL_PROCESSOR,
    LABEL_SESSION,
    LABEL_TOKEN_SALT,
    LABEL_USER,
    build_spec,
    processor_labels,
    selector,
    volume_name,
)
from .tokens import TokenKey

__all__ = ["KatoContainerManager", "PruneReport"]

log = logging.getLogger("container_manager.manager")

_LOG_LINES_ON_FAILURE = 50


@dataclass
class PruneReport:
    """What one `prune` did: orphan containers removed, orphan volumes kept or removed."""

    containers_removed: list[str] = field(default_factory=list)
    volumes_kept: list[str] = field(default_factory=list)
    volumes_removed: list[str] = field(default_factory=list)


class KatoContainerManager:
    """Create, find, observe and remove processor containers through a `Backend`."""

    def __init__(
        self,
        settings: ContainerSettings | None = None,
        backend: Backend | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = settings or ContainerSettings()
        deployment = resolve_deployment(settings.deployment, settings.state_dir)
        self.settings = settings.model_copy(update={"deployment": deployment})
        self.backend = backend if backend is not None else load_backend(self.settings.backend)
        self.clock = clock
        self.records = RecordStore(self.settings.state_dir)
        self.tokens = TokenKey(self.settings.state_dir)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def create_processor(
        self,
        user_id: str | None = None,
        session_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        processor_id: str | None = None,
    ) -> ProcessorInfo:
        """Create a processor and block until its `/health` answers.

        With `processor_id`, re-create that processor on its existing data volume (resume
        after hibernation); session, user and config default to the recorded ones. Any existing
        container of that processor is removed first, never restarted, so the new container
        always runs with the current settings and config; except a paused (or restarting) one,
        which still holds the processor's in-memory state: that is a `ProcessorStartError` and
        the container is left as it is.
        """
        parse_config(config)  # fail on a bad config before touching anything
        if processor_id is None:
            processor_id = secrets.token_hex(6)
        validate_processor_id(processor_id)
        with self._lock_for(processor_id):
            record = self.records.get(processor_id)
            if record is not None:
                session_id = session_id if session_id is not None else record.session_id
                user_id = user_id if user_id is not None else record.user_id
                config = config if config is not None else record.config
            config = dict(config or {})
            created_at = record.created_at if record else _now()
            stale = self._containers_of(processor_id)
            for state in stale:
                if state.status in SUSPENDED_STATUSES:
                    raise ProcessorStartError(
                        f"processor {processor_id} is {state.status}: its container holds its "
                        "state; unpause it (or remove it) first",
                        {"processor_id": processor_id, "status": state.status},
                    )
            for state in stale:
                self.backend.remove(state.container_id)
            salt = TokenKey.new_salt()
            labels = {
                **processor_labels(
                    self.settings,
                    processor_id,
                    session_id=session_id,
                    user_id=user_id,
                    created_at=created_at,
                ),
                LABEL_TOKEN_SALT: salt,
            }
            spec = build_spec(
                self.settings,
                parse_config(config),
                processor_id=processor_id,
                token=self.tokens.token_for(processor_id, salt),
                labels=labels,
            )
            # Recorded before launch so that a concurrent prune() never takes a starting
            # container for an orphan; a failed first launch leaves no record behind.
            self.records.put(ProcessorRecord(processor_id, session_id, user_id, created_at, config))
            try:
                return self._launch(spec)
            except ContainerManagerError:
                if record is None:
                    self.records.delete(processor_id)
                raise

    def remove_processor(self, processor_id: str, *, keep_data: bool = False) -> None:
        """Remove the processor's container; with `keep_data` keep its volume and record.

        `keep_data=True` is hibernation: `create_processor(processor_id=...)` resumes it.
        Raises `ProcessorNotFoundError` if neither a container nor a record exists.
        """
        with self._lock_for(processor_id):
            containers = self._containers_of(processor_id)
            record = self.records.get(processor_id)
            for container in containers:
                self.backend.remove(container.container_id)
            volume_removed = False
            if not keep_data:
                volume_removed = self.backend.remove_volume(
                    volume_name(processor_id), owner=selector(self.settings)
                )
                self.records.delete(processor_id)
            if not containers and record is None and not volume_removed:
                raise ProcessorNotFoundError(
                    f"no processor {processor_id}", {"processor_id": processor_id}
                )

    def prune(self) -> PruneReport:
        """Apply the one orphan rule to this deployment's containers and data volumes.

        An orphan is a container or volume of this deployment whose processor id no record
        claims. An orphan container is removed at once; an orphan volume is kept (and logged)
        until it has been unclaimed for `KATO_ORPHAN_GRACE` seconds, then removed by a later
        prune, so a mistake (a lost record) is recoverable for that long. Claims are read after
        listing: a processor's record is written before its container or volume exists, so
        nothing listed here can belong to a create still in progress.
        """
        owner = selector(self.settings)
        containers = self.backend.list(owner)
        volumes = self.backend.list_volumes(owner)
        claimed = self.records.ids()
        report = PruneReport()
        for state in containers:
            processor_id = state.labels.get(LABEL_PROCESSOR, "")
            if processor_id in claimed:
                continue
            self.backend.remove(state.container_id)
            report.containers_removed.append(state.container_id)
            log.warning(
                "orphan container removed; its data volume is kept for the orphan grace period",
                extra={"processor_id": processor_id, "container_id": state.container_id},
            )
        self._sweep_volumes(volumes, claimed, report)
        return report

    @property
    def deployment(self) -> str:
        """This manager's deployment id (label `kato.deployment`)."""
        return str(self.settings.deployment)

    # -- queries ---------------------------------------------------------------------------
    def list_processors(self) -> list[ProcessorInfo]:
        """Every container this manager's labels select, including ones made before a restart."""
        return [self._info(state) for state in self.backend.list(selector(self.settings))]

    def ping(self) -> None:
        """Return when the engine answers; `EngineUnavailableError` otherwise."""
        self.backend.ping()

    def get_processor(self, processor_id: str) -> ProcessorInfo | None:
        containers = self._containers_of(processor_id)
        return self._info(containers[0]) if containers else None

    def logs(self, processor_id: str, *, tail: int = 100, follow: bool = False) -> Iterator[str]:
        return self.backend.logs(self._container_id(processor_id), tail=tail, follow=follow)

    def stats(self, processor_id: str) -> dict[str, Any]:
        return self.backend.stats(self._container_id(processor_id))

    # -- steps -----------------------------------------------------------------------------
    def _sweep_volumes(
        self, volumes: list[VolumeState], claimed: set[str], report: PruneReport
    ) -> None:
        """Keep unclaimed volumes for the grace period (first sighting recorded), then remove."""
        now = self.clock()
        grace = self.settings.orphan_grace
        pending = self.records.orphan_volumes()
        unclaimed = {
            volume.name: volume.labels[LABEL_PROCESSOR]
            for volume in volumes
            if volume.labels.get(LABEL_PROCESSOR) and volume.labels[LABEL_PROCESSOR] not in claimed
        }
        self.records.forget_orphan_volumes(set(pending) - set(unclaimed))
        for name, processor_id in sorted(unclaimed.items()):
            since = pending.get(name)
            if since is None:
                self.records.mark_orphan_volume(name, now)
                log.warning(
                    "orphan data volume kept for %.0f s before removal",
                    grace,
                    extra={"processor_id": processor_id, "volume": name},
                )
            if since is None or now - since < grace:
                report.volumes_kept.append(name)
                continue
            if self._remove_orphan_volume(name, processor_id):
                report.volumes_removed.append(name)

    def _remove_orphan_volume(self, name: str, processor_id: str) -> bool:
        with self._lock_for(processor_id):
            if self.records.get(processor_id) is not None:  # claimed again meanwhile
                return False
            try:
                removed = self.backend.remove_volume(name, owner=selector(self.settings))
            except ContainerManagerError as exc:
                log.warning(
                    "orphan data volume not removed: %s",
                    exc.message,
                    extra={"volume": name, "diagnostics": exc.diagnostics},
                )
                return False
            self.records.forget_orphan_volumes({name})
        log.warning(
            "orphan data volume removed after the grace period",
            extra={"processor_id": processor_id, "volume": name},
        )
        return removed

    def _launch(self, spec: ProcessorSpec) -> ProcessorInfo:
        """create volume → create → start → address → ready; undo everything on failure."""
        timings: dict[str, float] = {}
        new_volume = self.backend.create_volume(spec.volume, spec.labels)
        container_id: str | None = None
        try:
            started = time.perf_counter()
            container_id = self.backend.create(spec)
            timings["create_s"] = time.perf_counter() - started
            self.backend.start(container_id)
            timings["start_s"] = time.perf_counter() - started
            address = self.backend.address(container_id)
            if address is None:
                state = self.backend.inspect(container_id)
                status = state.status if state else "gone"
                raise ProcessorStartError(
                    f"processor container exited during start-up (status {status})",
                    {"status": status},
                )
            cid = container_id
            wait_until_ready(
                address.url,
                timeout=self.settings.ready_timeout,
                is_running=lambda: self._is_running(cid),
                transport=self.backend.http_transport(),
            )
            timings["ready_s"] = time.perf_counter() - started
            state = self.backend.inspect(container_id)
            if state is None:
                raise ProcessorStartError("processor container vanished after start")
        except ContainerManagerError as exc:
            raise self._start_failed(exc, spec, container_id, new_volume) from exc
        return self._info(state, timings)

    def _start_failed(
        self,
        exc: ContainerManagerError,
        spec: ProcessorSpec,
        container_id: str | None,
        new_volume: bool,
    ) -> ProcessorStartError:
        """Collect the last log lines, remove what `_launch` made, and describe the failure.

        The error's message and details are ours (safe to show to API clients); what the
        engine and the container said is logged here and kept in `diagnostics` only. A failing
        clean-up step is logged and never hides the original failure; whatever it left behind
        is unclaimed once the caller drops the record, so `prune` takes it.
        """
        processor_id = spec.env["PROCESSOR_ID"]
        logs: list[str] = []
        try:
            if container_id is not None:
                try:
                    logs = list(
                        self.backend.logs(container_id, tail=_LOG_LINES_ON_FAILURE, follow=False)
                    )
                except ContainerManagerError:
                    logs = []  # gone already (removed under us, or the engine is down)
                self.backend.remove(container_id)
            if new_volume:
                self.backend.remove_volume(spec.volume, owner=selector(self.settings))
        except ContainerManagerError as cleanup:
            log.warning(
                "clean-up after a failed start failed: %s",
                cleanup.message,
                extra={"processor_id": processor_id, "diagnostics": cleanup.diagnostics},
            )
        diagnostics = [*exc.diagnostics, *logs]
        log.warning(
            "processor did not start: %s",
            exc.message,
            extra={"processor_id": processor_id, "diagnostics": diagnostics},
        )
        details: dict[str, Any] = {"processor_id": processor_id}
        if "image" in exc.details:  # image not found: the operator's own setting, worth saying
            details["image"] = spec.image
        return ProcessorStartError(
            f"processor {processor_id} did not start: {exc.message}", details, diagnostics
        )

    def _is_running(self, container_id: str) -> bool:
        state = self.backend.inspect(container_id)
        return state is not None and state.running

    def _containers_of(self, processor_id: str) -> list[ContainerState]:
        """This deployment's containers of the processor, and a legacy one that our record
        claims: containers made before deployment labels carry none, and a manager upgraded
        on its state directory must still route (and replace) its sessions' containers."""
        legacy_selector = {**selector(self.settings), LABEL_PROCESSOR: processor_id}
        del legacy_selector[LABEL_DEPLOYMENT]
        found = self.backend.list(legacy_selector)
        ours = [state for state in found if state.labels.get(LABEL_DEPLOYMENT) == self.deployment]
        legacy = [state for state in found if LABEL_DEPLOYMENT not in state.labels]
        if legacy and self.records.get(processor_id) is not None:
            ours += legacy
        return ours

    def _container_id(self, processor_id: str) -> str:
        containers = self._containers_of(processor_id)
        if not containers:
            raise ProcessorNotFoundError(
                f"no container for processor {processor_id}", {"processor_id": processor_id}
            )
        return containers[0].container_id

    def _lock_for(self, processor_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(processor_id, threading.Lock())

    def _info(
        self, state: ContainerState, timings: dict[str, float] | None = None
    ) -> ProcessorInfo:
        """A processor's public view from its container alone (labels, env, address); the
        token is the derived one unless the container carries its own (made before keys)."""
        processor_id = state.labels.get(LABEL_PROCESSOR, "")
        address = state.address
        published = address if address is not None and address.published else None
        return ProcessorInfo(
            processor_id=processor_id,
            container_name=state.name,
            container_id=state.container_id,
            port=published.port if published else None,
            internal_url=address.url if address else "",
            external_url=published.url if published else None,
            token=state.env.get("KATO_PROCESSOR_TOKEN")
            or self.tokens.token_for(processor_id, state.labels.get(LABEL_TOKEN_SALT, "")),
            session_id=state.labels.get(LABEL_SESSION) or None,
            user_id=state.labels.get(LABEL_USER) or None,
            status=state.status,
            created_at=state.labels.get(LABEL_CREATED, ""),
            timings=dict(timings or {}),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
