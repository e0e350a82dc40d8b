"""The proxy's HTTP/1.1 client: keep-alive connections to the session containers, one write
per request, the answer parsed by httptools (the parser uvicorn serves with).

Why: with aiohttp's client (request and response objects, header multidicts, a payload
writer, its timer and tracing hooks) a proxied `GET /stm` cost the manager ~340 µs of user CPU
on the 2-core development machine, with this one ~160 µs (docs/benchmarks.md, "Router"): it
does what the proxy needs and nothing else. aiohttp stays for everything else the manager
sends (snapshots, exports, health checks, WebSockets).

What it guarantees, as the aiohttp client did for the proxy:
- a connection per request at a time, at most `limit_per_host` per container (more wait),
  idle ones kept `keepalive` seconds (below uvicorn's 5 s, so a container rarely closes one
  just as it is reused), names resolved per new connection (no DNS cache: a woken session's
  container keeps its name, not its address);
- `total` seconds for the whole exchange, connect included: past it `TimeoutError` (the
  proxy's 504; the connection is closed, the request is never sent again);
- nothing listening: `UpstreamConnectError` (the proxy forgets the route);
- a reused connection that the container closed before answering is retried once on a new
  one for idempotent methods only (RFC 9112 §9.3.1.1, as aiohttp does); every other failure
  is `UpstreamError` (the proxy's 502);
- the answer's body is read whole (Content-Length, chunked, or up to the close), its headers
  returned raw, names lower-cased; `1xx` interim answers are skipped.
A HEAD request is never sent (the manager routes HEAD as GET, `middleware.HeadAsGet`): its
answer has no body, which this parser would wait for.
"""

from __future__ import annotations

import asyncio
import collections
import time

import httptools

__all__ = ["Upstreams", "UpstreamConnectError", "UpstreamError"]

_IDEMPOTENT = frozenset({"GET", "OPTIONS", "PUT", "DELETE"})
#: aiohttp's: a request of another method with no body says `Content-Length: 0`.
_BODYLESS_METHODS = frozenset({"GET", "OPTIONS"})

Headers = list[tuple[bytes, bytes]]


class UpstreamError(Exception):
    """The container did not answer: the connection failed or closed, or the answer was not
    HTTP. `answered` is False when nothing of an answer arrived."""

    def __init__(self, message: str, *, answered: bool = True) -> None:
        super().__init__(message)
        self.answered = answered


class UpstreamConnectError(UpstreamError):
    """No connection could be made (nothing listens there, or the name does not resolve)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `exchange` one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._waiter: asyncio.Future[None] | None = None
        self._status = 0
        self._headers: Headers = []
        self._body: list[bytes] = []
        self._started = False  # a byte of the answer arrived
        self._complete = False
        self._keep_alive = False
        self._framed = False  # the answer says where its body ends

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP connection's

    def data_received(self, data: bytes) -> None:
        self._started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # a 101: not something the proxy relays
            self._fail(UpstreamError("the container upgraded the connection"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"not an HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._started and not self._framed and self._status:  # a body ended by the close
            self._complete = True
            waiter.set_result(None)
            return
        waiter.set_exception(
            UpstreamError("the container closed the connection", answered=self._started)
        )

    # -- httptools callbacks ---------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            self._framed = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer: the real one follows
            self._status, self._headers, self._body, self._framed = 0, [], [], False
            return
        self._complete = True
        self._keep_alive = self.parser.should_keep_alive()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- use -------------------------------------------------------------------------------
    def _fail(self, error: UpstreamError) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes, deadline: float | None) -> tuple[int, Headers, bytes]:
        """Send `request`, wait for its answer until `deadline` (the loop's clock; None: no
        bound), then `TimeoutError`. One timer handle, not an `asyncio.timeout` per request."""
        assert self.transport is not None
        self._status, self._headers, self._body = 0, [], []
        self._started = self._complete = self._keep_alive = self._framed = False
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_at(deadline, self._expire, waiter) if deadline is not None else None
        self.transport.write(request)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if not self._keep_alive:
            self.close()
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        return self._status, self._headers, body

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError("no answer in time"))
        self.close()

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self.closed


class _Host:
    """The connections of one `host:port`: idle ones (most recent last), a bound, and how
    many requests use it now (a host with neither is forgotten)."""

    __slots__ = ("active", "idle", "slots")

    def __init__(self, limit: int) -> None:
        self.idle: collections.deque[_Connection] = collections.deque()
        self.slots = asyncio.Semaphore(limit)
        self.active = 0


class Upstreams:
    """Pooled keep-alive connections to the containers; `close` at shutdown. Idle connections
    past `keepalive` are closed by a sweep every `keepalive` seconds while any is idle, and a
    host with no connection left is forgotten (containers come and go: hibernation, wakes)."""

    def __init__(self, *, limit_per_host: int = 64, keepalive: float = 4.0) -> None:
        self.limit_per_host = limit_per_host
        self.keepalive = keepalive
        self._hosts: dict[tuple[str, int], _Host] = {}
        self._sweep: asyncio.TimerHandle | None = None

    async def request(
        self,
        host: str,
        port: int,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        total: float | None,
    ) -> tuple[int, Headers, bytes]:
        """(status, headers, body) of `method target` (the raw path and query) sent with
        `headers` (already filtered: no Host, Content-Length or Transfer-Encoding) and
        `body`, within `total` seconds (None: no bound)."""
        if method == "HEAD":  # see the module docstring
            raise ValueError("HEAD is sent as GET (middleware.HeadAsGet)")
        request = _encode(host, port, method, target, headers, body)
        pool = self._hosts.get((host, port))
        if pool is None:
            pool = self._hosts[(host, port)] = _Host(self.limit_per_host)
        deadline = None if total is None else asyncio.get_running_loop().time() + total
        pool.active += 1  # before any wait: a host in use is never forgotten
        try:
            if pool.slots.locked():  # at the bound: the wait counts against the deadline
                async with asyncio.timeout_at(deadline):
                    await pool.slots.acquire()
            else:
                await pool.slots.acquire()  # returns at once
            try:
                return await self._send(pool, host, port, method, request, deadline)
            finally:
                pool.slots.release()
        finally:
            pool.active -= 1
            if pool.idle and self._sweep is None:
                loop = asyncio.get_running_loop()
                self._sweep = loop.call_later(self.keepalive, self._swept)
            elif not pool.idle and not pool.active and self._hosts.get((host, port)) is pool:
                del self._hosts[(host, port)]

    async def _send(
        self, pool: _Host, host: str, port: int, method: str, request: bytes, deadline: float | None
    ) -> tuple[int, Headers, bytes]:
        for attempt in (1, 2):
            connection = self._idle(pool)
            if connection is None:
                async with asyncio.timeout_at(deadline):
                    connection = await self._connect(host, port)
            try:
                answer = await connection.exchange(request, deadline)
            except UpstreamError as exc:
                connection.close()
                retry = connection.reused and not exc.answered and method in _IDEMPOTENT
                if attempt == 2 or not retry:
                    raise
                continue
            except BaseException:  # a timeout or a cancellation: its state is unknown
                connection.close()
                raise
            if connection.reusable:
                connection.idle_since = time.monotonic()
                connection.reused = True
                pool.idle.append(connection)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _idle(self, pool: _Host) -> _Connection | None:
        """The most recently used idle connection still open and fresh; older ones closed."""
        now = time.monotonic()
        while pool.idle:
            connection = pool.idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive:
                return connection
            connection.close()
        return None

    async def _connect(self, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            transport, connection = await loop.create_connection(_Connection, host, port)
        except OSError as exc:
            raise UpstreamConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        connection.transport = transport  # uvloop may call `connection_made` after this
        return connection

    def _swept(self) -> None:
        """Close the idle connections past `keepalive` (or closed by the container), forget
        the hosts left without any, and come back while some are still idle."""
        self._sweep = None
        now = time.monotonic()
        for key, pool in list(self._hosts.items()):
            fresh = [c for c in pool.idle if not c.closed and now - c.idle_since < self.keepalive]
            for connection in pool.idle:
                if connection not in fresh:
                    connection.close()
            pool.idle = collections.deque(fresh)
            if not pool.idle and not pool.active:
                del self._hosts[key]
        if any(pool.idle for pool in self._hosts.values()):
            self._sweep = asyncio.get_running_loop().call_later(self.keepalive, self._swept)

    def close(self) -> None:
        """Close every idle connection (one in use closes when its request ends)."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for pool in self._hosts.values():
            while pool.idle:
                pool.idle.pop().close()
        self._hosts.clear()


def _encode(host: str, port: int, method: str, target: str, headers: Headers, body: bytes) -> bytes:
    parts = [f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode("latin-1")]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    if body or method not in _BODYLESS_METHODS:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)
