"""The client: `AsyncKatoClient` (the manager), `AsyncSession` (one session, through the
manager) and `AsyncProcessorClient` (one container, directly).

One pooled `httpx.AsyncClient` per `AsyncKatoClient` carries every call of its sessions and of
the `AsyncProcessorClient`s that `AsyncSession.direct()` returns; close the `AsyncKatoClient`
(or use `async with`) to release it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from .. import _operations as ops
from .._calls import DEFAULT_TIMEOUT, POOL_LIMITS, Call, RetryPolicy, Target, TimeoutLike
from .._errors import KatoError, NotFoundError
from .._models import (
    CognitionData,
    Event,
    GeneResult,
    Health,
    ImportResult,
    LearnResult,
    Metrics,
    ObserveResult,
    ObserveSequenceResult,
    PatternResult,
    PerceptData,
    PredictionsResult,
    ProcessorStatus,
    Ready,
    SessionInfo,
    SessionPage,
    StatusMessage,
    StmResult,
)
from .._new_session import NewSession  # unasync: drop
from .._operations import ObservationLike
from .http import download, iter_events, send
from .stream import AsyncProcessorStream

__all__ = ["AsyncKatoClient", "AsyncProcessorClient", "AsyncSession"]

T = TypeVar("T")


class AsyncProcessorCalls:
    """Every endpoint of the processor API, shared by `AsyncSession` and `AsyncProcessorClient`.

    Results are typed dataclasses whose fields are named as in the JSON answers.
    """

    _http: httpx.AsyncClient
    _retry: RetryPolicy
    _target: Target

    async def _call(self, call: Call[T]) -> T:
        return await send(self._http, self._target, call, self._retry)

    async def observe(
        self,
        strings: Sequence[str] | None = None,
        vectors: Sequence[Sequence[float]] | None = None,
        emotives: Mapping[str, float] | None = None,
        unique_id: str | None = None,
    ) -> ObserveResult:
        """`POST /observe`: one event into short-term memory (not retried by default)."""
        return await self._call(ops.observe(strings, vectors, emotives, unique_id))

    async def observe_sequence(
        self,
        observations: Sequence[ObservationLike],
        *,
        learn_after_each: bool = False,
        learn_at_end: bool = False,
        clear_stm_between: bool = False,
    ) -> ObserveSequenceResult:
        """`POST /observe-sequence`: many events in one request, validated all first."""
        return await self._call(
            ops.observe_sequence(
                observations,
                learn_after_each=learn_after_each,
                learn_at_end=learn_at_end,
                clear_stm_between=clear_stm_between,
            )
        )

    async def stm(self) -> StmResult:
        """`GET /stm`: the short-term memory, one list of symbols per event."""
        return await self._call(ops.stm())

    async def learn(self) -> LearnResult:
        """`POST /learn`: STM becomes a pattern (`pattern_name` is "" if too short)."""
        return await self._call(ops.learn())

    async def clear_stm(self) -> StatusMessage:
        """`POST /clear-stm`."""
        return await self._call(ops.clear_stm())

    async def clear_all(self) -> StatusMessage:
        """`POST /clear-all`: STM and every learned pattern (genes are kept)."""
        return await self._call(ops.clear_all())

    async def predictions(self, unique_id: str | None = None) -> PredictionsResult:
        """`GET /predictions[?unique_id=]`: of the last observation, or of `unique_id`'s."""
        return await self._call(ops.predictions(unique_id))

    async def pattern(self, pattern_id: str) -> PatternResult:
        """`GET /pattern/{id}` (with or without `PTRN|`)."""
        return await self._call(ops.pattern(pattern_id))

    async def update_genes(self, genes: Mapping[str, Any]) -> StatusMessage:
        """`POST /genes/update`: all or nothing (an unknown gene changes nothing)."""
        return await self._call(ops.update_genes(genes))

    async def gene(self, name: str) -> GeneResult:
        """`GET /gene/{name}`."""
        return await self._call(ops.gene(name))

    async def percept_data(self) -> PerceptData:
        """`GET /percept-data`: the last observation as the processor saw it."""
        return await self._call(ops.percept_data())

    async def cognition_data(self) -> CognitionData:
        """`GET /cognition-data`."""
        return await self._call(ops.cognition_data())

    async def status(self) -> ProcessorStatus:
        """`GET /status`."""
        return await self._call(ops.status())

    async def health(self) -> Health:
        """`GET /health`."""
        return await self._call(ops.health())

    async def metrics(self) -> Metrics:
        """`GET /metrics` (the spec's JSON counters)."""
        return await self._call(ops.metrics())

    async def get_state(self) -> dict[str, Any]:
        """`GET /state`: the whole in-memory state, for `put_state` later."""
        return await self._call(ops.get_state())

    async def put_state(self, state: Mapping[str, Any]) -> StatusMessage:
        """`PUT /state`: restore exactly what `get_state` returned."""
        return await self._call(ops.put_state(state))

    def stream(self, open_timeout: float = 120.0) -> AsyncProcessorStream:
        """The WebSocket `/ws`: `with x.stream() as ws: ws.observe(strings=["a"])`."""
        return AsyncProcessorStream(self._target, open_timeout)

    def export(self) -> AsyncIterator[bytes]:
        """`GET /export`: the whole memory (patterns, symbols, state) as the chunks of one
        NDJSON document, streamed: `async for chunk in s.export(): file.write(chunk)`. A
        hibernated session is woken for it."""
        return download(self._http, self._target, ops.EXPORT_PATH)


class AsyncProcessorClient(AsyncProcessorCalls):
    """One processor container, called directly at `url` with its bearer `token`."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._target = Target(httpx.URL(url), token)
        self._retry = retry or RetryPolicy()
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=timeout, transport=transport, limits=POOL_LIMITS
        )

    @property
    def url(self) -> str:
        return str(self._target.base_url)

    async def import_memory(self, document: bytes | AsyncIterable[bytes]) -> ImportResult:
        """`PUT /import`: replace this processor's whole memory by an export (bytes, or chunks
        such as an open file's); all or nothing, so a damaged document changes nothing."""
        return await self._call(ops.import_memory(document))

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncProcessorClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class AsyncSession(AsyncProcessorCalls):
    """One session, called through the manager (`/session/<id>/…`); a hibernated session is
    woken by its next call, which the manager holds until the container answers.

    As a context manager (`async with`), it deletes the session on exit.
    """

    def __init__(self, client: AsyncKatoClient, info: SessionInfo) -> None:
        self.client = client
        self.info = info
        self.session_id = info.session_id
        self._http = client._http
        self._retry = client.retry
        self._target = client._target.under("session", info.session_id)

    async def refresh(self) -> SessionInfo:
        """Read the session again (`status`, `url`, `token` change with hibernation)."""
        self.info = await self.client.get_session(self.session_id)
        return self.info

    async def delete(self) -> None:
        """Remove the container, its data and the record."""
        await self.client.delete_session(self.session_id)

    async def fork(
        self, user_id: str | None = None, ttl_seconds: int | None = None
    ) -> AsyncSession:
        """`POST /session/{id}/fork`: a new session with a copy of this one's memory (owner:
        this one's unless `user_id`); this session keeps running untouched."""
        return await self.client.fork_session(self.session_id, user_id, ttl_seconds)

    async def direct(self) -> AsyncProcessorClient:
        """A client (`AsyncProcessorClient`) of the session's own container (no manager hop),
        waking the session first if it is hibernated, resuming it if it is paused. Valid until
        it is paused (`KATO_PAUSE_AFTER` idle: calls then wait) or hibernated again."""
        await self.health()  # through the manager: wakes or resumes it
        await self.refresh()
        if not self.info.url:
            raise KatoError(
                "the session's container has no address reachable from here (private network)",
                code="KATO_NO_DIRECT_URL",
            )
        return AsyncProcessorClient(
            self.info.url, self.info.token, retry=self._retry, http=self._http
        )

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(NotFoundError):
            await self.delete()


class AsyncKatoClient:
    """The session manager at `base_url`, with `api_key` when it requires one (KATO_API_KEY),
    or as one of an application's users with the `token` (a JWT) the application gave it.

    `timeout` applies to every call (a float, or an `httpx.Timeout`); `retry` says when a
    refused call is sent again (see `RetryPolicy`); `transport` replaces the network (tests).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        *,
        token: str | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if api_key is not None and token is not None:
            raise ValueError("give api_key (the operator's) or token (a user's), not both")
        self._target = Target(httpx.URL(base_url), api_key if token is None else token)
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, limits=POOL_LIMITS)

    async def _call(self, call: Call[T]) -> T:
        return await send(self._http, self._target, call, self.retry)

    async def create_session(
        self,
        user_id: str | None = None,
        genes: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> AsyncSession:
        """`POST /session/create`: a new session, kept until deleted (or its TTL passes)."""
        info = await self._call(ops.create_session(user_id, genes, ttl_seconds))
        return AsyncSession(self, info)

    async def import_session(
        self,
        document: bytes | AsyncIterable[bytes],
        user_id: str | None = None,
        ttl_seconds: int | None = None,
    ) -> AsyncSession:
        """`POST /session/import`: a new session holding the memory of an export (bytes, or
        chunks such as an open file's, streamed); a damaged document creates nothing."""
        info = await self._call(ops.import_session(document, user_id, ttl_seconds))
        return AsyncSession(self, info)

    async def fork_session(
        self, session_id: str, user_id: str | None = None, ttl_seconds: int | None = None
    ) -> AsyncSession:
        """`POST /session/{id}/fork`: a new session with a copy of that one's memory."""
        info = await self._call(ops.fork_session(session_id, user_id, ttl_seconds))
        return AsyncSession(self, info)

    def session(
        self,
        user_id: str | None = None,
        genes: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> NewSession[AsyncSession]:  # unasync: ) -> Session:
        """A new session, deleted when its `async with` block ends."""
        created = self.create_session(user_id, genes, ttl_seconds)
        return NewSession(created)  # unasync: return created

    async def attach(self, session_id: str) -> AsyncSession:
        """The session of an existing id (NotFoundError if there is none)."""
        return AsyncSession(self, await self.get_session(session_id))

    async def get_session(self, session_id: str) -> SessionInfo:
        return await self._call(ops.get_session(session_id))

    async def list_sessions(
        self,
        user_id: str | None = None,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SessionPage:
        """`GET /sessions`: one page, oldest first (up to 100 sessions without `limit`, at
        most 1000), of one user's or one `status`'s sessions if asked; pass its
        `next_cursor` as `cursor` for the next page (None: this was the last).
        `iter_sessions` walks every page."""
        return await self._call(ops.list_sessions(user_id, status, limit, cursor))

    async def iter_sessions(
        self, user_id: str | None = None, *, status: str | None = None, page_size: int = 100
    ) -> AsyncIterator[SessionInfo]:
        """Every session (or one user's, or one status's), oldest first, a page at a time:
        each page is fetched when the previous one is used up. A session created meanwhile
        comes last; one deleted meanwhile may or may not appear."""
        cursor = None
        while True:
            page = await self.list_sessions(user_id, status=status, limit=page_size, cursor=cursor)
            for info in page:  # unasync: yield from page
                yield info  # unasync: drop
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def delete_session(self, session_id: str) -> None:
        await self._call(ops.delete_session(session_id))

    async def health(self) -> dict[str, Any]:
        return await self._call(ops.manager_health())

    async def ready(self) -> Ready:
        """`GET /ready`; raises UnavailableError when the engine or registry is not ready."""
        return await self._call(ops.ready())

    def events(self, after: int | None = None, *, follow: bool = True) -> AsyncIterator[Event]:
        """Lifecycle events (`GET /events`) as they happen; `after=<id>` resumes after that
        event (0: the whole backlog); `follow=False` stops at the end of the backlog."""
        return iter_events(self._http, self._target, after, follow, self.retry)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncKatoClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
