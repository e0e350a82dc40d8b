"""`SessionService`: the lifecycle of sessions (create, route, wake, hibernate, delete).

Concurrency rules, all on the event loop:
- every change to one session happens under that session's `asyncio.Lock`, so two requests
  that wake the same hibernated session make one container (single flight);
- `acquire` looks up the route and counts the request in flight without awaiting in between,
  and `hibernate` removes the route only when nothing is in flight, so no request can slip
  between the state snapshot and the container's removal;
- activity is recorded in memory per request and flushed to the registry in batches;
- the registry is called through `registry.call`, on its own thread, never on the event loop;
- a create or wake holds an `Admission` slot while it starts its container (room made by
  evicting an idle session, or a short FIFO wait); a create claims a warm-pool processor when
  it can (`WarmPool`), recording the claim before it answers.

Wakes never take a pooled processor: a hibernated session's patterns (its long-term memory)
live on its own data volume, which only a container of that processor id mounts; the snapshot
carries the short-term state only. So a wake is a start on the session's volume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from container_manager import (
    ContainerManagerError,
    KatoContainerManager,
    ProcessorInfo,
    ProcessorNotFoundError,
)
from kato.contract import iso_time
from kato.web import tracing

from .admission import Admission
from .backoff import Backoff
from .errors import (
    BadGatewayError,
    CapacityError,
    SessionExpiredError,
    SessionNotFoundError,
    UpstreamTimeoutError,
    ValidationFailedError,
)
from .events import EventBus
from .metrics import ManagerMetrics
from .models import is_session_id
from .pool import POOLABLE_GENES, WarmPool
from .processor_client import (
    GenesRejectedError,
    check_health,
    fetch_state,
    restore_state,
    update_genes,
)
from .quotas import SessionQuota
from .registry import SessionRecord, SessionRegistry
from .routing.router import Activity, BuiltinRouter, Router, RouteTarget
from .settings import ManagerSettings
from .spawning import SpawnQueue

__all__ = ["Route", "SessionService"]

log = logging.getLogger("session_manager.sessions")


#: How long a route withdrawn for a pause or hibernation waits for the requests already on
#: their way through the router to end before it is given back (the session left running).
_DRAIN_SECONDS = 2.0
_DRAIN_POLL = 0.02


@dataclass
class Route:
    """Where a running session's container answers; `inflight` counts requests and sockets;
    `owner` is the session's `user_id` (so the access check of a routed session reads no
    record; None: read the record)."""

    internal_url: str
    token: str
    inflight: int = 0
    #: Its container is paused (the paused tier): the next request resumes it first.
    paused: bool = False
    owner: str | None = None


class SessionService:
    def __init__(
        self,
        settings: ManagerSettings,
        registry: SessionRegistry,
        containers: KatoContainerManager,
        client: aiohttp.ClientSession,
        metrics: ManagerMetrics,
        clock: Callable[[], float] = time.time,
        events: EventBus | None = None,
        router: Router | None = None,
    ) -> None:
        self.settings = settings
        #: What carries running sessions' traffic (routing/router.py): told of every route.
        self.router: Router = router or BuiltinRouter()
        self.registry = registry
        self.containers = containers
        self.client = client
        self.metrics = metrics
        #: One timeout for every proxied request (`KATO_PROXY_TIMEOUT`), made once.
        self.proxy_timeout = aiohttp.ClientTimeout(total=settings.proxy_timeout)
        self.clock = clock
        self.events = events
        self.routes: dict[str, Route] = {}
        self.activity: dict[str, float] = {}
        #: What the router reported at its last read (`read_router_activity`), for metrics.
        self.router_seen: dict[str, Activity] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.spawns = SpawnQueue(
            concurrency=settings.max_concurrent_spawns,
            queue=settings.spawn_queue,
            wait=settings.spawn_wait,
        )
        self.admission = Admission(
            settings,
            metrics,
            routed=lambda: len(self.routes),
            evict=self.evict_one,
            spawns=self.spawns,
        )
        self.pool = WarmPool(
            settings,
            containers,
            client,
            metrics,
            running=self.running_count,
            claims=lambda: registry.call(registry.processor_ids),
            spawn_slot=self._idle_spawn_slot,
            release_slot=self.spawns.release,
        )
        self.quota = SessionQuota(
            settings.max_sessions_per_user,
            lambda user: registry.call(registry.count_of, user),
            on_refusal=metrics.rejected,
        )
        #: Sessions whose snapshot failed wait longer and longer before the reaper retries.
        self.hibernate_backoff = Backoff(base=settings.reap_interval, cap=settings.reap_backoff_max)
        #: The reaper's own bookkeeping: sessions being reaped now, and its concurrency bound.
        self.reaping: set[str] = set()
        self.reap_slots = asyncio.Semaphore(settings.reap_concurrency)

    # -- API operations ----------------------------------------------------------------------
    @tracing.traced("session.create")
    async def create(
        self,
        user_id: str | None,
        genes: dict[str, Any],
        ttl_seconds: int | None,
        *,
        default_of: str | None = None,
    ) -> SessionRecord:
        """Record the session first (so reconcile never takes its container for an orphan),
        then start its container; a failed start leaves no record behind. `default_of`: the
        caller whose default session this is (default_sessions.py). A `user_id` at
        `KATO_MAX_SESSIONS_PER_USER` is refused (429) before anything is done."""
        async with self.quota.claim(user_id):
            return await self._create(user_id, genes, ttl_seconds, default_of)

    async def _create(
        self,
        user_id: str | None,
        genes: dict[str, Any],
        ttl_seconds: int | None,
        default_of: str | None,
    ) -> SessionRecord:
        session_id = uuid.uuid4().hex
        tracing.annotate(**{"kato.session_id": session_id})
        now = self.clock()
        record = SessionRecord(
            session_id=session_id,
            processor_id=secrets.token_hex(6),
            user_id=user_id,
            status="starting",
            created_at=now,
            last_activity=now,
            genes=genes,
            ttl_seconds=ttl_seconds,
            expires_at=now + ttl_seconds if ttl_seconds else None,
            default_of=default_of,
        )
        async with self.lock(session_id), self.admission.slot():
            claimed = self.pool.take() if self._poolable(genes) else None
            health = None
            if claimed is not None:
                record = record.with_changes(processor_id=claimed.processor_id)
                if not genes:  # a read changes nothing: it runs beside the claim's commit
                    health = asyncio.ensure_future(self._answers(claimed))
            try:
                await self.registry.call(self.registry.put, record)  # the claim, if any
            except BaseException:
                if claimed is not None:
                    self.pool.settled(claimed, back=True)
                raise
            await self.emit("session.created", record, "starting")
            async with self._failure_event(record, "deleted", report_capacity=True):
                try:
                    info = await self._use_claimed(record, claimed, health) if claimed else None
                    if info is None:
                        if claimed is not None:  # it did not answer: replaced, cold start
                            record = record.with_changes(processor_id=secrets.token_hex(6))
                            await self.registry.call(self.registry.put, record)
                            self.pool.settled(claimed)
                        info = await self._spawn(record, reason="create")
                except BaseException:
                    await self.registry.call(self.registry.delete, session_id)
                    raise
            running = await self.mark_running(record, info)
            await self.emit("session.running", running, "running")
            return running

    def _poolable(self, genes: dict[str, Any]) -> bool:
        """Only genes a running processor takes can be served from the pool (see pool.py)."""
        return self.pool.desired > 0 and set(genes) <= POOLABLE_GENES

    async def _answers(self, claimed: ProcessorInfo) -> bool:
        return await check_health(
            self.client, claimed.internal_url, claimed.token, self.settings.snapshot_timeout
        )

    @tracing.traced("pool.claim")
    async def _use_claimed(
        self, record: SessionRecord, claimed: ProcessorInfo, health: Awaitable[bool] | None
    ) -> ProcessorInfo | None:
        """The claimed processor with the session's genes applied (or, without genes, once
        `health`, started with the claim, says it answers); None if it does not answer (it is
        removed: the caller starts one cold). Refused genes are a 422, and the processor,
        unchanged (the update is atomic), goes back to the pool. Genes are sent only once the
        claim is on disk: a crash can never put a changed processor back in the pool."""
        url, token = claimed.internal_url, claimed.token
        try:
            if record.genes:
                timeout = self.settings.snapshot_timeout
                await update_genes(self.client, url, token, record.genes, timeout)
            elif not await (health or self._answers(claimed)):
                raise BadGatewayError("pooled processor did not answer")
        except GenesRejectedError as exc:
            await self.registry.call(self.registry.delete, record.session_id)
            self.pool.settled(claimed, back=True)
            raise ValidationFailedError(
                "the processor refused the genes", {"genes": sorted(record.genes)}
            ) from exc
        except (BadGatewayError, UpstreamTimeoutError):
            log.warning(
                "claimed pooled processor did not answer: replaced",
                extra={"processor_id": claimed.processor_id},
            )
            await self.pool.discard(claimed.processor_id)
            return None
        self.pool.settled(claimed)
        return claimed

    async def get(self, session_id: str) -> SessionRecord:
        """The session's record; ids not of the manager's format are unknown without a look."""
        record = None
        if is_session_id(session_id):
            record = await self.registry.call(self.registry.get, session_id)
        if record is None:
            shown = session_id[:64]
            expired_at = None
            if is_session_id(session_id) and self.settings.expired_retention:
                expired_at = await self.registry.call(self.registry.expired_at, session_id)
            if expired_at is not None:
                raise SessionExpiredError(
                    f"session {shown} expired (its TTL passed)",
                    {"session_id": shown, "expired_at": iso_time(expired_at)},
                )
            raise SessionNotFoundError.unknown(session_id)
        return record

    async def owner_of(self, session_id: str) -> str | None:
        """The session's `user_id`: from its route while it runs and has one, else from its
        record (a route made without `owner` is only slower); 404/410 if unknown."""
        route = self.routes.get(session_id)
        if route is not None and route.owner is not None:
            return route.owner
        return (await self.get(session_id)).user_id

    async def delete(self, session_id: str, *, reason: str | None = None) -> None:
        """Remove container, volume and record; `reason` ("expiry") counts it as a reap."""
        async with self.lock(session_id):
            record = await self.get(session_id)
            await self.unroute(session_id)
            with contextlib.suppress(ProcessorNotFoundError):
                await asyncio.to_thread(self.containers.remove_processor, record.processor_id)
            expired_at = self.clock() if reason == "expiry" else None
            await self.registry.call(self.registry.delete, session_id, expired_at)
            self.activity.pop(session_id, None)
            kind = "session.expired" if reason == "expiry" else "session.deleted"
            await self.emit(kind, record, "deleted")
        self._locks.pop(session_id, None)
        self.hibernate_backoff.clear(session_id)
        if reason:
            self.metrics.reaps.labels(reason).inc()
        log.info("session deleted", extra={"session_id": session_id, "reason": reason or "api"})

    # -- routing -----------------------------------------------------------------------------
    async def acquire(self, session_id: str) -> Route:
        """The session's route, waking its container if needed; pair with `release`."""
        route = self.routes.get(session_id)
        if route is None or route.paused:
            route = await self._wake(session_id)
        route.inflight += 1
        self.activity[session_id] = self.clock()
        return route

    @contextlib.asynccontextmanager
    async def held(self, session_id: str) -> AsyncIterator[Route]:
        """The session's route (woken or resumed first), counted in flight for the block, so
        the session is never paused, hibernated or evicted under it."""
        route = await self.acquire(session_id)
        try:
            yield route
        finally:
            self.release(session_id, route)

    def release(self, session_id: str, route: Route) -> None:
        route.inflight -= 1
        self.activity[session_id] = self.clock()

    def touch(self, session_id: str) -> None:
        self.activity[session_id] = self.clock()

    async def forget_route(self, session_id: str, route: Route) -> None:
        """Drop a route whose container refused a connection, so the next request checks it:
        still running → routed again as is; gone → recreated on its volume."""
        if self.routes.get(session_id) is route:
            await self.unroute(session_id)

    @property
    def pausing(self) -> bool:
        """Whether the paused tier is on: `KATO_PAUSE_AFTER` set below `KATO_IDLE_TIMEOUT` on
        an engine that can pause in place."""
        pause_after = self.settings.pause_after
        return 0 < pause_after < self.settings.idle_timeout and self.containers.can_pause

    async def pause(self, session_id: str) -> bool:
        """Pause an idle running session's container in place (`KATO_PAUSE_AFTER`); False if
        it became busy or active meanwhile, or is paused already."""
        async with self.lock(session_id):
            record = await self.registry.call(self.registry.get, session_id)
            route = self.routes.get(session_id)
            if record is None or route is None or route.inflight or route.paused:
                return False
            if self.clock() - self.last_activity(record) < self.settings.pause_after:
                return False
            if not await self._withdraw(session_id):  # busy at the router
                return False
            route.paused = True  # before the pause: a request now reaches the manager
            try:
                await asyncio.to_thread(self.containers.pause_processor, record.processor_id)
            except BaseException:
                route.paused = False
                await self._publish(session_id, route)
                raise
            await self.emit("session.paused", record, "running")
        log.info("session paused", extra={"session_id": session_id})
        return True

    async def _unpause(self, record: SessionRecord, route: Route) -> None:
        """Resume a paused session's container (the lock held); its route serves as before."""
        await self._resume_container(record)
        route.paused = False
        await self._publish(record.session_id, route)

    async def _resume_container(self, record: SessionRecord) -> None:
        """Unpause the session's container (the lock held) and say so; routing is the
        caller's."""
        await asyncio.to_thread(self.containers.unpause_processor, record.processor_id)
        await self.emit("session.resumed", record, "running")

    @tracing.traced("session.wake")
    async def _wake(self, session_id: str) -> Route:
        tracing.annotate(**{"kato.session_id": session_id})
        await self.get(session_id)  # unknown ids get a 404 before a lock is made for them
        async with self.lock(session_id):
            return await self._wake_locked(session_id)

    async def _wake_locked(self, session_id: str) -> Route:
        """`_wake` with the session's lock held: resume a paused container, route a running
        one, else start one (restoring the snapshot of a hibernated session)."""
        route = self.routes.get(session_id)
        if route is not None:
            if route.paused:
                await self._unpause(await self.get(session_id), route)
            return route
        record = await self.get(session_id)
        if record.expires_at is not None and record.expires_at <= self.clock():
            raise SessionExpiredError(
                f"session {session_id} expired (its TTL passed)",
                {"session_id": session_id, "expired_at": iso_time(record.expires_at)},
            )
        if record.status in ("running", "starting"):
            # The route was dropped after a connection error: keep a container that runs.
            info = await asyncio.to_thread(self.containers.get_processor, record.processor_id)
            if info is not None and info.status == "paused":  # paused before a restart
                await self._resume_container(record)
                info = await asyncio.to_thread(self.containers.get_processor, record.processor_id)
            if info is not None and info.status == "running":
                route = Route(info.internal_url, info.token, owner=record.user_id)
                self.routes[session_id] = route
                await self._publish(session_id, route)
                return route
        async with self.admission.slot():
            snapshot = None
            if record.status == "hibernated":  # read only now: snapshots can be large
                snapshot = await self.registry.call(self.registry.snapshot, session_id)
            async with self._failure_event(record, record.status, report_capacity=False):
                info = await self._spawn(record, reason="wake")
                if snapshot is not None:
                    try:
                        await restore_state(self.client, info.internal_url, info.token, snapshot)
                    except BaseException:
                        await self.remove_container(record.processor_id)
                        raise
            woken = await self.mark_running(record, info)
        await self.emit("session.woken", woken, "running")
        log.info("session woken", extra={"session_id": session_id, "status": record.status})
        return self.routes[session_id]

    # -- reaping -----------------------------------------------------------------------------
    def last_activity(self, record: SessionRecord) -> float:
        return max(record.last_activity, self.activity.get(record.session_id, 0.0))

    @tracing.traced("session.hibernate")
    async def hibernate(
        self,
        session_id: str,
        *,
        force: bool = False,
        min_idle: float | None = None,
        event: str = "session.hibernated",
    ) -> bool:
        """Snapshot, record, then remove the container keeping its volume. False if the
        session became busy or active meanwhile (nothing is changed then); `force` (an
        operator's "hibernate now") skips the idle time, never the in-flight check. A snapshot
        that fails (or takes longer than `KATO_SNAPSHOT_TIMEOUT`) raises and leaves the session
        running as it was: hibernating without it would lose the session's STM. Eviction
        passes its own `min_idle` (`KATO_EVICT_MIN_IDLE`) and `event` (`session.evicted`)."""
        async with self.lock(session_id):
            record = await self.registry.call(self.registry.get, session_id)
            route = self.routes.get(session_id)  # read after the await: no await until `del`
            if route is None or record is None or route.inflight:
                return False
            idle = self.clock() - self.last_activity(record)
            needed = self.settings.idle_timeout if min_idle is None else min_idle
            if not force and idle < needed:
                return False
            if route.paused:  # its state is read from a running process (it stays unrouted)
                await self._resume_container(record)
                route.paused = False
            elif not await self._withdraw(session_id):  # busy at the router
                return False
            del self.routes[session_id]
            try:
                snapshot = await fetch_state(
                    self.client, route.internal_url, route.token, self.settings.snapshot_timeout
                )
            except BaseException:
                self.routes[session_id] = route
                await self._publish(session_id, route)
                raise
            await self.registry.call(
                self.registry.put,
                record.with_changes(
                    status="hibernated",
                    snapshot=snapshot,
                    last_activity=self.last_activity(record),
                    url=None,
                    internal_url=None,
                    token=None,
                ),
            )
            self.activity.pop(session_id, None)
            await self.remove_container(record.processor_id)
            self._room_freed()
            await self.emit(event, record, "hibernated")
        if min_idle is None:
            self.metrics.reaps.labels("hibernation").inc()
        log.info("session hibernated", extra={"session_id": session_id, "event": event})
        return True

    async def evict_one(self) -> bool:
        """Hibernate the least recently used session idle at least `KATO_EVICT_MIN_IDLE`
        (snapshot saved, as the reaper does); False when none is evictable. A request that
        arrives for it meanwhile either holds it (in flight: not evicted) or wakes it."""
        now = self.clock()
        records = await self.registry.call(self.registry.all, None, "running")  # routed ones

        def paused(record: SessionRecord) -> bool:
            route = self.routes.get(record.session_id)
            return route is not None and route.paused

        candidates = sorted(
            (
                r
                for r in records
                if (route := self.routes.get(r.session_id)) is not None
                and not route.inflight
                and r.session_id not in self.reaping
                and (route.paused or now - self.last_activity(r) >= self.settings.evict_min_idle)
            ),
            key=lambda r: (not paused(r), self.last_activity(r)),  # the paused tier goes first
        )
        for record in candidates:
            try:
                evicted = await self.hibernate(
                    record.session_id,
                    min_idle=0.0 if paused(record) else self.settings.evict_min_idle,
                    event="session.evicted",
                )
            except Exception as exc:  # its snapshot failed: it stays running, try the next
                log.warning(
                    "eviction failed, session left running: %r",
                    exc,
                    extra={"session_id": record.session_id},
                )
                continue
            if evicted:
                self.metrics.evictions.inc()
                return True
        return False

    async def flush_activity(self) -> None:
        """Write the coalesced last-activity times to the registry (on its thread), the
        router's included (`read_router_activity`)."""
        await self.read_router_activity()
        pending, self.activity = self.activity, {}
        await self.registry.call(self.registry.touch_many, list(pending.items()))

    # -- helpers -----------------------------------------------------------------------------
    async def emit(
        self, type_: str, record: SessionRecord, status: str, error_code: str | None = None
    ) -> None:
        """Log and publish a lifecycle event (session_manager.events); never fails the caller."""
        if self.events is not None:
            await self.events.emit(
                type_, self.clock(), record.session_id, record.user_id, status, error_code
            )

    @contextlib.asynccontextmanager
    async def _failure_event(
        self, record: SessionRecord, status_after: str, *, report_capacity: bool
    ) -> AsyncIterator[None]:
        """Emit `session.failed` with the error code when the block (a spawn or wake) fails;
        a full spawn queue on wake is a refusal, not a failure: nothing was attempted."""
        try:
            yield
        except BaseException as exc:
            if report_capacity or not isinstance(exc, CapacityError):
                code = getattr(exc, "code", None)
                code = code if isinstance(code, str) else "KATO_INTERNAL_ERROR"
                await self.emit("session.failed", record, status_after, code)
            raise

    def lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def remove_container(self, processor_id: str) -> None:
        """Remove the session's container, keeping its data volume (hibernate, stop)."""
        await asyncio.to_thread(self.containers.remove_processor, processor_id, keep_data=True)

    def running_count(self) -> int:
        """Sessions' containers: routed ones and those being started, claimed or woken."""
        return self.admission.used()

    async def unroute(self, session_id: str) -> None:
        """Drop the route (if any) and let a waiting create or wake, or the pool, use the room.
        The router's copy goes too; a router that cannot be told is logged, not fatal (the
        container is gone or going, and `sync_routes` removes the route later)."""
        if self.routes.pop(session_id, None) is not None:
            self._room_freed()
            try:
                await self.router.remove_route(session_id)
            except Exception as exc:
                log.warning(
                    "router kept a removed route: %r", exc, extra={"session_id": session_id}
                )

    # -- the router (routing/router.py) --------------------------------------------------------
    async def _publish(self, session_id: str, route: Route) -> None:
        """Tell the router of a route that serves: a router that cannot be told is logged,
        not fatal (its misses reach the manager, which serves them; `sync_routes` retries)."""
        if route.paused:
            return
        try:
            await self.router.add_route(RouteTarget(session_id, route.internal_url, route.token))
        except Exception as exc:
            log.warning("router did not take a route: %r", exc, extra={"session_id": session_id})

    async def _withdraw(self, session_id: str) -> bool:
        """Remove the session's route from the router before its container is paused or
        snapshotted; False (the route given back) when the router still has a request or a
        socket of it open. A removed route sends new requests to the manager, which waits for
        the session's lock; a request past the router's lookup is in `Activity.open`."""
        if not self.router.external:
            return True
        await self.router.remove_route(session_id)  # raises: nothing changed, nothing done
        # New requests now reach the manager (and wait for the lock held here); those on
        # their way are given a moment to end (a socket, or a long request, is not).
        deadline = time.monotonic() + _DRAIN_SECONDS
        while True:
            seen = await self.router.activity_of(session_id)
            if seen is None or seen.open == 0:
                return True
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(_DRAIN_POLL)
        route = self.routes.get(session_id)
        if route is not None:
            await self._publish(session_id, route)
        self.activity[session_id] = self.clock()
        return False

    async def read_router_activity(self) -> None:
        """Fold what the router carried into the sessions' activity: its last request, and
        "now" for a session with a request or socket open there."""
        if not self.router.external:
            return
        try:
            seen = await self.router.activity()
        except Exception as exc:
            log.warning("router activity unread: %r", exc)
            return
        self.router_seen = seen
        now = self.clock()
        for session_id, activity in seen.items():
            last = now if activity.open else activity.last_request
            if last is not None and last > self.activity.get(session_id, 0.0):
                self.activity[session_id] = last

    def routed_activity(self) -> dict[str, tuple[int, int]]:
        """(requests, open) at the router per running session, as last read (metrics)."""
        return {
            session_id: (seen.requests, seen.open)
            for session_id, seen in self.router_seen.items()
            if session_id in self.routes
        }

    async def sync_routes(self) -> tuple[list[str], list[str]]:
        """Make the router's routes the manager's (after a restart adopted a running router,
        and on every reconcile): (added, removed) session ids. Adds happen under the
        session's lock, so a hibernation in progress is never routed again."""
        if not self.router.external:
            return [], []
        have = await self.router.routes()
        added: list[str] = []
        removed: list[str] = []
        for session_id in sorted(set(have) | set(self.routes)):
            async with self.lock(session_id):
                route = self.routes.get(session_id)
                if route is None or route.paused:
                    if session_id in have:
                        await self.router.remove_route(session_id)
                        removed.append(session_id)
                    continue
                if have.get(session_id) != RouteTarget(session_id, route.internal_url, route.token):
                    await self._publish(session_id, route)
                    added.append(session_id)
        return added, removed

    def _room_freed(self) -> None:
        self.admission.notify()
        self.pool.kick()

    async def _idle_spawn_slot(self) -> bool:
        """A spawn slot for the pool's refill, only when no create or wake wants one."""
        return not self.admission.waiting and await self.spawns.idle_slot()

    async def mark_running(self, record: SessionRecord, info: ProcessorInfo) -> SessionRecord:
        """Record the session as running on `info`'s container (committed), and route it."""
        running = _running(record, info)
        await self.registry.call(self.registry.put, running)
        route = Route(info.internal_url, info.token, owner=record.user_id)
        self.routes[record.session_id] = route
        await self._publish(record.session_id, route)
        return running

    @tracing.traced("container.spawn")
    async def _spawn(self, record: SessionRecord, *, reason: str) -> ProcessorInfo:
        """Start the session's container within the spawn cap (`spawning.SpawnQueue`: a full
        start queue or its wait is a 503 `KATO_SPAWN_BUSY`). A pooled processor is given up
        first when the budget needs its place."""
        tracing.annotate(**{"kato.processor_id": record.processor_id, "kato.reason": reason})
        async with self.spawns.slot():
            await self.pool.make_room()
            return await self._start_container(record, reason)

    async def _start_container(self, record: SessionRecord, reason: str) -> ProcessorInfo:
        started = time.perf_counter()
        try:
            info = await asyncio.to_thread(
                self.containers.create_processor,
                user_id=record.user_id,
                session_id=record.session_id,
                config=record.genes,
                processor_id=record.processor_id,
            )
        except ContainerManagerError:  # answered by session_manager.engine_errors, as all are
            self.metrics.spawns.labels(reason, "error").inc()
            raise
        elapsed = time.perf_counter() - started
        self.metrics.spawns.labels(reason, "ok").inc()
        self.metrics.spawn_seconds.labels(reason).observe(elapsed)
        self.spawns.measured(elapsed)
        return info


def _running(record: SessionRecord, info: ProcessorInfo) -> SessionRecord:
    return record.with_changes(
        status="running",
        snapshot=None,
        url=info.external_url,
        internal_url=info.internal_url,
        token=info.token,
    )
