"""`KatoContainerManager`: one secure container per processor, through a `Backend`.

Synchronous on purpose (the Docker SDK is); async callers use `asyncio.to_thread`. Operations
on different processors run concurrently; operations on the same processor are serialised by
a per-processor lock.

It keeps no table of its processors: the engine's labels say what exists and with which
identity (session, user, creation time, token salt), and the caller says what it claims (the
session manager passes its registry's processors to `prune`). Everything it lists, prunes or
removes is selected by its deployment's labels (see `deployment.py`), so managers sharing an
engine never touch each other's containers or data.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from kato.contract import ENV_PROCESSOR_ID, ENV_TOKEN

from . import _legacy
from .backend import Backend
from .backends import load_backend
from .config import parse_config, validate_processor_id
from .deployment import resolve_deployment
from .errors import ContainerManagerError, ProcessorNotFoundError, ProcessorStartError
from .models import SUSPENDED_STATUSES, ContainerState, ProcessorInfo, ProcessorSpec
from .orphans import OrphanLedger, PruneReport, sweep
from .readiness import wait_until_ready
from .settings import ContainerSettings
from .spec import (
    LABEL_CREATED,
    LABEL_POOL,
    LABEL_PROCESSOR,
    LABEL_SESSION,
    LABEL_TOKEN_SALT,
    LABEL_USER,
    build_spec,
    container_name,
    processor_labels,
    selector,
    volume_name,
)
from .tokens import TokenKey

__all__ = ["Claims", "KatoContainerManager"]

log = logging.getLogger("container_manager.manager")

#: What the caller claims, read when `prune` needs it: the processor ids it still serves.
Claims = Callable[[], Collection[str]]


class KatoContainerManager:
    """Create, find, observe and remove processor containers through a `Backend`.

    `http_transport` is for tests whose backend answers HTTP without sockets (`FakeBackend`'s
    `transport()`): the readiness probe uses it; None is the real network.
    """

    def __init__(
        self,
        settings: ContainerSettings | None = None,
        backend: Backend | None = None,
        clock: Callable[[], float] = time.time,
        *,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = settings or ContainerSettings()
        deployment = resolve_deployment(settings.deployment, settings.state_dir)
        self.settings = settings.model_copy(update={"deployment": deployment})
        self.backend = backend if backend is not None else load_backend(self.settings.backend)
        self.clock = clock
        self.http_transport = http_transport
        self.orphans = OrphanLedger(self.settings.state_dir)
        self.tokens = TokenKey(self.settings.state_dir)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._launching: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------
    def create_processor(
        self,
        user_id: str | None = None,
        session_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        processor_id: str | None = None,
        *,
        pooled: bool = False,
    ) -> ProcessorInfo:
        """Create a processor and block until its `/health` answers.

        `pooled` starts a warm-pool processor (label `kato.pool=true`, no session): a caller
        claims it later by recording its processor id (see session_manager/pool.py).

        With `processor_id`, re-create that processor on its existing data volume (resume
        after hibernation): the config is the caller's (the session manager passes the
        session's genes on every wake); session, user and creation time default to the ones
        its data volume carries. Any existing container of that processor is removed first,
        never restarted, so the new container always runs with the current settings and
        config; except a paused (or restarting) one, which still holds the processor's
        in-memory state: that is a `ProcessorStartError` and the container is left as it is.
        """
        parsed = parse_config(config)  # fail on a bad config before touching anything
        fresh = processor_id is None
        processor_id = secrets.token_hex(6) if processor_id is None else processor_id
        validate_processor_id(processor_id)
        with self._lock_for(processor_id), self._in_flight_while(processor_id):
            identity = {} if fresh else self._volume_labels(processor_id)
            stale = self._containers_of(processor_id)
            for state in stale:
                if state.status in SUSPENDED_STATUSES:
                    raise ProcessorStartError(
                        f"processor {processor_id} is {state.status}: its container holds its "
                        "state; unpause it (or remove it) first",
                        {"processor_id": processor_id, "status": state.status},
                    )
            for state in stale:
                self._remove_container(state)
            salt = TokenKey.new_salt()
            labels = {
                **processor_labels(
                    self.settings,
                    processor_id,
                    session_id=session_id
                    if session_id is not None
                    else identity.get(LABEL_SESSION),
                    user_id=user_id if user_id is not None else identity.get(LABEL_USER),
                    created_at=identity.get(LABEL_CREATED) or _now(),
                ),
                LABEL_TOKEN_SALT: salt,
            }
            if pooled:
                labels[LABEL_POOL] = "true"
            spec = build_spec(
                self.settings,
                parsed,
                processor_id=processor_id,
                token=self.tokens.token_for(processor_id, salt),
                labels=labels,
            )
            return self._launch(spec)

    def remove_processor(self, processor_id: str, *, keep_data: bool = False) -> None:
        """Remove the processor's container; with `keep_data` keep its data volume.

        `keep_data=True` is hibernation: `create_processor(processor_id=...)` resumes it.
        Raises `ProcessorNotFoundError` if neither a container nor a data volume exists.
        """
        with self._lock_for(processor_id):
            containers = self._containers_of(processor_id)
            removed = False
            for state in containers:
                removed = self._remove_container(state) or removed
            if not keep_data:
                removed = (
                    self.backend.remove(
                        container_name(self.settings, processor_id),
                        volume_name(processor_id),
                        keep_data=False,
                        owner=selector(self.settings),
                    )
                    or removed
                )
            if not removed and not containers and not self._volume_labels(processor_id):
                raise ProcessorNotFoundError(
                    f"no processor {processor_id}", {"processor_id": processor_id}
                )

    def prune(self, claims: Claims) -> PruneReport:
        """Apply the one orphan rule (`orphans.py`) to this deployment's containers and volumes.

        An orphan is a container or volume of this deployment that serves a session (label
        `kato.session_id` set) whose processor id `claims()` does not return and that is not
        being launched. Processors without a session (`katoctl spawn`) are the CLI's and never
        orphans. An orphan container is removed at once; an orphan volume is kept (and logged)
        until it has been unclaimed for `KATO_ORPHAN_GRACE` seconds, then removed by a later
        prune, so a mistake (a lost session) is recoverable for that long. `claims` is called
        after listing: a caller records its claim before it creates a processor, so nothing
        listed here can belong to a create still in progress.
        """
        owner = selector(self.settings)
        containers = self.backend.find(owner)
        volumes = self.backend.find_volumes(owner)
        return sweep(
            self.orphans,
            containers,
            volumes,
            set(claims()) | self._in_flight(),
            grace=self.settings.orphan_grace,
            clock=self.clock,
            remove_container=self._remove_container,
            remove_volume=lambda name, processor_id: self._remove_orphan_volume(
                name, processor_id, claims
            ),
        )

    @property
    def deployment(self) -> str:
        """This manager's deployment id (label `kato.deployment`)."""
        return str(self.settings.deployment)

    # -- queries ---------------------------------------------------------------------------
    def list_processors(self) -> list[ProcessorInfo]:
        """Every container this manager's labels select, including ones made before a restart."""
        return [self._info(state) for state in self.backend.find(selector(self.settings))]

    def ping(self) -> None:
        """Return when the engine answers; `EngineUnavailableError` otherwise."""
        self.backend.ping()

    @property
    def can_pause(self) -> bool:
        """Whether this engine can pause a processor in place (not on Swarm)."""
        return self.backend.can_freeze

    def pause_processor(self, processor_id: str) -> None:
        """Freeze the processor's container in place (`docker pause`): memory kept, no CPU."""
        with self._lock_for(processor_id):
            self.backend.freeze(self._container_name(processor_id), selector(self.settings))

    def unpause_processor(self, processor_id: str) -> None:
        """Resume a paused processor (a running one is left as it is)."""
        with self._lock_for(processor_id):
            self.backend.thaw(self._container_name(processor_id), selector(self.settings))

    def get_processor(self, processor_id: str) -> ProcessorInfo | None:
        containers = self._containers_of(processor_id)
        return self._info(containers[0]) if containers else None

    def logs(self, processor_id: str, *, tail: int = 100, follow: bool = False) -> Iterator[str]:
        return self.backend.logs(self._container_name(processor_id), tail=tail, follow=follow)

    def stats(self, processor_id: str) -> dict[str, Any]:
        return self.backend.stats(self._container_name(processor_id))

    # -- steps -----------------------------------------------------------------------------
    def _remove_orphan_volume(self, name: str, processor_id: str, claims: Claims) -> bool:
        with self._lock_for(processor_id):
            if processor_id in self._in_flight() or processor_id in claims():
                return False  # claimed again meanwhile
            try:
                removed = self.backend.remove(
                    container_name(self.settings, processor_id),
                    name,
                    keep_data=False,
                    owner=selector(self.settings),
                )
            except ContainerManagerError as exc:
                log.warning(
                    "orphan data volume not removed: %s",
                    exc.message,
                    extra={"volume": name, "diagnostics": exc.diagnostics},
                )
                return False
            self.orphans.forget({name})
        log.warning(
            "orphan data volume removed after the grace period",
            extra={"processor_id": processor_id, "volume": name},
        )
        return removed

    def _launch(self, spec: ProcessorSpec) -> ProcessorInfo:
        """launch (volume, container, address) → ready; undone as a whole on failure."""
        started = time.perf_counter()
        try:
            launched = self.backend.launch(spec)
        except ContainerManagerError as exc:
            raise self._start_failed(exc, spec) from exc
        timings = {"launch_s": time.perf_counter() - started}
        try:
            address = launched.state.address
            if address is None:  # a backend breaking its contract: still undone as a whole
                raise ProcessorStartError("the engine gave the processor no address")
            wait_until_ready(
                address.url,
                timeout=self.settings.ready_timeout,
                is_running=lambda: self._is_running(spec.name),
                transport=self.http_transport,
            )
            timings["ready_s"] = time.perf_counter() - started
            state = self.backend.inspect(spec.name)
            if state is None:
                raise ProcessorStartError("processor container vanished after start")
        except ContainerManagerError as exc:
            undone = self.backend.discard(spec, exc, new_volume=launched.new_volume)
            raise self._start_failed(undone, spec) from exc
        return self._info(state, timings)

    def _start_failed(self, exc: ContainerManagerError, spec: ProcessorSpec) -> ProcessorStartError:
        """Describe a failed start (the backend has removed what it made).

        The error's message and details are ours (safe to show to API clients); what the
        engine and the container said is logged here and kept in `diagnostics` only.
        """
        processor_id = spec.env[ENV_PROCESSOR_ID]
        log.warning(
            "processor did not start: %s",
            exc.message,
            extra={"processor_id": processor_id, "diagnostics": exc.diagnostics},
        )
        details: dict[str, Any] = {"processor_id": processor_id}
        if "image" in exc.details:  # image not found: the operator's own setting, worth saying
            details["image"] = spec.image
        return ProcessorStartError(
            f"processor {processor_id} did not start: {exc.message}", details, exc.diagnostics
        )

    @contextmanager
    def _in_flight_while(self, processor_id: str) -> Iterator[None]:
        """Known as in flight until its create returns, so a concurrent `prune` never takes a
        starting container (or its volume) for an orphan before its caller could claim it."""
        with self._locks_guard:
            self._launching.add(processor_id)
        try:
            yield
        finally:
            with self._locks_guard:
                self._launching.discard(processor_id)

    def _in_flight(self) -> set[str]:
        with self._locks_guard:
            return set(self._launching)

    def _is_running(self, name: str) -> bool:
        state = self.backend.inspect(name)
        return state is not None and state.running

    def _containers_of(self, processor_id: str) -> list[ContainerState]:
        """This deployment's containers of the processor (and an older one: see `_legacy`)."""
        return _legacy.containers_of(self.backend, self.settings, processor_id)

    def _remove_container(self, state: ContainerState) -> bool:
        """Remove one of this processor's containers, keeping its data."""
        processor_id = state.labels.get(LABEL_PROCESSOR, "")
        owner = _legacy.owner_of(self.settings, state.labels)
        return self.backend.remove(
            state.name, volume_name(processor_id), keep_data=True, owner=owner
        )

    def _volume_labels(self, processor_id: str) -> Mapping[str, str]:
        """The labels of the processor's data volume ({} if it has none): its identity as
        first launched (session, user, creation time)."""
        found = self.backend.find_volumes(
            {**selector(self.settings), LABEL_PROCESSOR: processor_id}
        )
        return found[0].labels if found else {}

    def _container_name(self, processor_id: str) -> str:
        containers = self._containers_of(processor_id)
        if not containers:
            raise ProcessorNotFoundError(
                f"no container for processor {processor_id}", {"processor_id": processor_id}
            )
        return containers[0].name

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
            token=state.env.get(ENV_TOKEN)
            or self.tokens.token_for(processor_id, state.labels.get(LABEL_TOKEN_SALT, "")),
            session_id=state.labels.get(LABEL_SESSION) or None,
            user_id=state.labels.get(LABEL_USER) or None,
            status=state.status,
            created_at=state.labels.get(LABEL_CREATED, ""),
            timings=dict(timings or {}),
            pooled=state.labels.get(LABEL_POOL) == "true",
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
