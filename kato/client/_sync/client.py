# GENERATED from _async/client.py by scripts/unasync.py: edit that file, then run
# `python scripts/unasync.py` (make lint checks that this file is current).
"""The client: `KatoClient` (the manager), `Session` (one session, through the
manager) and `ProcessorClient` (one container, directly).

One pooled `httpx.Client` per `KatoClient` carries every call of its sessions and of
the `ProcessorClient`s that `Session.direct()` returns; close the `KatoClient`
(or use `with`) to release it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
from .._operations import ObservationLike
from .http import download, iter_events, send
from .stream import ProcessorStream

__all__ = ["KatoClient", "ProcessorClient", "Session"]

T = TypeVar("T")


class ProcessorCalls:
    """Every endpoint of the processor API, shared by `Session` and `ProcessorClient`.

    Results are typed dataclasses whose fields are named as in the JSON answers.
    """

    _http: httpx.Client
    _retry: RetryPolicy
    _target: Target

    def _call(self, call: Call[T]) -> T:
        return send(self._http, self._target, call, self._retry)

    def observe(
        self,
        strings: Sequence[str] | None = None,
        vectors: Sequence[Sequence[float]] | None = None,
        emotives: Mapping[str, float] | None = None,
        unique_id: str | None = None,
    ) -> ObserveResult:
        """`POST /observe`: one event into short-term memory (not retried by default)."""
        return self._call(ops.observe(strings, vectors, emotives, unique_id))

    def observe_sequence(
        self,
        observations: Sequence[ObservationLike],
        *,
        learn_after_each: bool = False,
        learn_at_end: bool = False,
        clear_stm_between: bool = False,
    ) -> ObserveSequenceResult:
        """`POST /observe-sequence`: many events in one request, validated all first."""
        return self._call(
            ops.observe_sequence(
                observations,
                learn_after_each=learn_after_each,
                learn_at_end=learn_at_end,
                clear_stm_between=clear_stm_between,
            )
        )

    def stm(self) -> StmResult:
        """`GET /stm`: the short-term memory, one list of symbols per event."""
        return self._call(ops.stm())

    def learn(self) -> LearnResult:
        """`POST /learn`: STM becomes a pattern (`pattern_name` is "" if too short)."""
        return self._call(ops.learn())

    def clear_stm(self) -> StatusMessage:
        """`POST /clear-stm`."""
        return self._call(ops.clear_stm())

    def clear_all(self) -> StatusMessage:
        """`POST /clear-all`: STM and every learned pattern (genes are kept)."""
        return self._call(ops.clear_all())

    def predictions(self, unique_id: str | None = None) -> PredictionsResult:
        """`GET /predictions[?unique_id=]`: of the last observation, or of `unique_id`'s."""
        return self._call(ops.predictions(unique_id))

    def pattern(self, pattern_id: str) -> PatternResult:
        """`GET /pattern/{id}` (with or without `PTRN|`)."""
        return self._call(ops.pattern(pattern_id))

    def update_genes(self, genes: Mapping[str, Any]) -> StatusMessage:
        """`POST /genes/update`: all or nothing (an unknown gene changes nothing)."""
        return self._call(ops.update_genes(genes))

    def gene(self, name: str) -> GeneResult:
        """`GET /gene/{name}`."""
        return self._call(ops.gene(name))

    def percept_data(self) -> PerceptData:
        """`GET /percept-data`: the last observation as the processor saw it."""
        return self._call(ops.percept_data())

    def cognition_data(self) -> CognitionData:
        """`GET /cognition-data`."""
        return self._call(ops.cognition_data())

    def status(self) -> ProcessorStatus:
        """`GET /status`."""
        return self._call(ops.status())

    def health(self) -> Health:
        """`GET /health`."""
        return self._call(ops.health())

    def metrics(self) -> Metrics:
        """`GET /metrics` (the spec's JSON counters)."""
        return self._call(ops.metrics())

    def get_state(self) -> dict[str, Any]:
        """`GET /state`: the whole in-memory state, for `put_state` later."""
        return self._call(ops.get_state())

    def put_state(self, state: Mapping[str, Any]) -> StatusMessage:
        """`PUT /state`: restore exactly what `get_state` returned."""
        return self._call(ops.put_state(state))

    def stream(self, open_timeout: float = 120.0) -> ProcessorStream:
        """The WebSocket `/ws`: `with x.stream() as ws: ws.observe(strings=["a"])`."""
        return ProcessorStream(self._target, open_timeout)

    def export(self) -> Iterator[bytes]:
        """`GET /export`: the whole memory (patterns, symbols, state) as the chunks of one
        NDJSON document, streamed: `for chunk in s.export(): file.write(chunk)`. A
        hibernated session is woken for it."""
        return download(self._http, self._target, ops.EXPORT_PATH)


class ProcessorClient(ProcessorCalls):
    """One processor container, called directly at `url` with its bearer `token`."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._target = Target(httpx.URL(url), token)
        self._retry = retry or RetryPolicy()
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=timeout, transport=transport, limits=POOL_LIMITS
        )

    @property
    def url(self) -> str:
        return str(self._target.base_url)

    def import_memory(self, document: bytes | Iterable[bytes]) -> ImportResult:
        """`PUT /import`: replace this processor's whole memory by an export (bytes, or chunks
        such as an open file's); all or nothing, so a damaged document changes nothing."""
        return self._call(ops.import_memory(document))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ProcessorClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Session(ProcessorCalls):
    """One session, called through the manager (`/session/<id>/…`); a hibernated session is
    woken by its next call, which the manager holds until the container answers.

    As a context manager (`with`), it deletes the session on exit.
    """

    def __init__(self, client: KatoClient, info: SessionInfo) -> None:
        self.client = client
        self.info = info
        self.session_id = info.session_id
        self._http = client._http
        self._retry = client.retry
        self._target = client._target.under("session", info.session_id)

    def refresh(self) -> SessionInfo:
        """Read the session again (`status`, `url`, `token` change with hibernation)."""
        self.info = self.client.get_session(self.session_id)
        return self.info

    def delete(self) -> None:
        """Remove the container, its data and the record."""
        self.client.delete_session(self.session_id)

    def fork(
        self, user_id: str | None = None, ttl_seconds: int | None = None
    ) -> Session:
        """`POST /session/{id}/fork`: a new session with a copy of this one's memory (owner:
        this one's unless `user_id`); this session keeps running untouched."""
        return self.client.fork_session(self.session_id, user_id, ttl_seconds)

    def direct(self) -> ProcessorClient:
        """A client (`ProcessorClient`) of the session's own container (no manager hop),
        waking the session first if it is hibernated, resuming it if it is paused. Valid until
        it is paused (`KATO_PAUSE_AFTER` idle: calls then wait) or hibernated again."""
        self.health()  # through the manager: wakes or resumes it
        self.refresh()
        if not self.info.url:
            raise KatoError(
                "the session's container has no address reachable from here (private network)",
                code="KATO_NO_DIRECT_URL",
            )
        return ProcessorClient(
            self.info.url, self.info.token, retry=self._retry, http=self._http
        )

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(NotFoundError):
            self.delete()


class KatoClient:
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if api_key is not None and token is not None:
            raise ValueError("give api_key (the operator's) or token (a user's), not both")
        self._target = Target(httpx.URL(base_url), api_key if token is None else token)
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(timeout=timeout, transport=transport, limits=POOL_LIMITS)

    def _call(self, call: Call[T]) -> T:
        return send(self._http, self._target, call, self.retry)

    def create_session(
        self,
        user_id: str | None = None,
        genes: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> Session:
        """`POST /session/create`: a new session, kept until deleted (or its TTL passes)."""
        info = self._call(ops.create_session(user_id, genes, ttl_seconds))
        return Session(self, info)

    def import_session(
        self,
        document: bytes | Iterable[bytes],
        user_id: str | None = None,
        ttl_seconds: int | None = None,
    ) -> Session:
        """`POST /session/import`: a new session holding the memory of an export (bytes, or
        chunks such as an open file's, streamed); a damaged document creates nothing."""
        info = self._call(ops.import_session(document, user_id, ttl_seconds))
        return Session(self, info)

    def fork_session(
        self, session_id: str, user_id: str | None = None, ttl_seconds: int | None = None
    ) -> Session:
        """`POST /session/{id}/fork`: a new session with a copy of that one's memory."""
        info = self._call(ops.fork_session(session_id, user_id, ttl_seconds))
        return Session(self, info)

    def session(
        self,
        user_id: str | None = None,
        genes: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
    ) -> Session:
        """A new session, deleted when its `with` block ends."""
        created = self.create_session(user_id, genes, ttl_seconds)
        return created

    def attach(self, session_id: str) -> Session:
        """The session of an existing id (NotFoundError if there is none)."""
        return Session(self, self.get_session(session_id))

    def get_session(self, session_id: str) -> SessionInfo:
        return self._call(ops.get_session(session_id))

    def list_sessions(
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
        return self._call(ops.list_sessions(user_id, status, limit, cursor))

    def iter_sessions(
        self, user_id: str | None = None, *, status: str | None = None, page_size: int = 100
    ) -> Iterator[SessionInfo]:
        """Every session (or one user's, or one status's), oldest first, a page at a time:
        each page is fetched when the previous one is used up. A session created meanwhile
        comes last; one deleted meanwhile may or may not appear."""
        cursor = None
        while True:
            page = self.list_sessions(user_id, status=status, limit=page_size, cursor=cursor)
            yield from page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def delete_session(self, session_id: str) -> None:
        self._call(ops.delete_session(session_id))

    def health(self) -> dict[str, Any]:
        return self._call(ops.manager_health())

    def ready(self) -> Ready:
        """`GET /ready`; raises UnavailableError when the engine or registry is not ready."""
        return self._call(ops.ready())

    def events(self, after: int | None = None, *, follow: bool = True) -> Iterator[Event]:
        """Lifecycle events (`GET /events`) as they happen; `after=<id>` resumes after that
        event (0: the whole backlog); `follow=False` stops at the end of the backlog."""
        return iter_events(self._http, self._target, after, follow, self.retry)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KatoClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
