"""`KatoContainerManager`: one secure container per processor, built from backend steps.

Synchronous on purpose (the Docker SDK is); async callers use `asyncio.to_thread`. Operations
on different processors run concurrently; operations on the same processor are serialised by
a per-processor lock.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from .backend import Backend
from .backends import load_backend
from .config import parse_config, validate_processor_id
from .errors import ContainerManagerError, ProcessorNotFoundError, ProcessorStartError
from .models import ContainerState, ProcessorInfo, ProcessorSpec
from .readiness import wait_until_ready
from .records import ProcessorRecord, RecordStore
from .settings import ContainerSettings
from .spec import (
    LABEL_CREATED,
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

__all__ = ["KatoContainerManager"]

_LOG_LINES_ON_FAILURE = 50


class KatoContainerManager:
    """Create, find, observe and remove processor containers through a `Backend`."""

    def __init__(
        self, settings: ContainerSettings | None = None, backend: Backend | None = None
    ) -> None:
        self.settings = settings or ContainerSettings()
        self.backend = backend if backend is not None else load_backend(self.settings.backend)
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
        always runs with the current settings and config.
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
            for stale in self._containers_of(processor_id):
                self.backend.remove(stale.container_id)
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
            if not containers and self.records.get(processor_id) is None:
                raise ProcessorNotFoundError(
                    f"no processor {processor_id}", {"processor_id": processor_id}
                )
            for container in containers:
                self.backend.remove(container.container_id)
            if not keep_data:
                self.backend.remove_volume(volume_name(processor_id))
                self.records.delete(processor_id)

    def prune(self) -> list[str]:
        """Remove managed containers (and their volumes) that no record claims; return their ids."""
        claimed = self.records.ids()
        pruned: list[str] = []
        for state in self.backend.list(selector(self.settings)):
            processor_id = state.labels.get(LABEL_PROCESSOR, "")
            if processor_id in claimed:
                continue
            self.backend.remove(state.container_id)
            if processor_id:
                self.backend.remove_volume(volume_name(processor_id))
            pruned.append(state.container_id)
        return pruned

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
        """Collect the last log lines, remove what `_launch` made, and describe the failure."""
        logs: list[str] = []
        if container_id is not None:
            try:
                logs = list(
                    self.backend.logs(container_id, tail=_LOG_LINES_ON_FAILURE, follow=False)
                )
            except ContainerManagerError:
                logs = []
            self.backend.remove(container_id)
        if new_volume:
            self.backend.remove_volume(spec.volume)
        details = {
            **exc.details,
            "processor_id": spec.env["PROCESSOR_ID"],
            "image": spec.image,
            "logs": logs,
        }
        return ProcessorStartError(f"{exc.message} (processor {spec.env['PROCESSOR_ID']})", details)

    def _is_running(self, container_id: str) -> bool:
        state = self.backend.inspect(container_id)
        return state is not None and state.running

    def _containers_of(self, processor_id: str) -> list[ContainerState]:
        return self.backend.list({**selector(self.settings), LABEL_PROCESSOR: processor_id})

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
