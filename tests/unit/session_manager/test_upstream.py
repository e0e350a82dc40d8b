"""The proxy's HTTP/1.1 client (`session_manager.upstream`) against a scripted server on
loopback: framing (length, chunked, close), keep-alive reuse, interim answers, the per-host
bound, and each failure the proxy maps (connect, timeout, a closed connection, retried once
for idempotent methods only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from kato.web.launcher import free_port
from session_manager.upstream import UpstreamConnectError, UpstreamError, Upstreams

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok"

#: Given (request number on its connection, request bytes), what to send back; None: close
#: without an answer (an answer saying `Connection: close` is followed by the close).
Script = Callable[[int, bytes], bytes | None]


class Server:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                number += 1
                answer = self.script(number, request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(script: Script) -> AsyncIterator[Server]:
    server = Server(script)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


async def get(
    upstreams: Upstreams, server: Server, method: str = "GET", body: bytes = b""
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return await upstreams.request(
        "127.0.0.1", server.port, method, "/stm?x=1", [(b"accept", b"*/*")], body, 5
    )


async def test_one_write_per_request_and_the_connection_is_reused() -> None:
    upstreams = Upstreams()
    async with serving(lambda n, r: OK) as server:
        for _ in range(3):
            answer = await get(upstreams, server)
            assert answer == (200, [(b"content-length", b"2"), (b"x-a", b"1")], b"ok")
        posted = await get(upstreams, server, "POST", b'{"a":1}')
    assert posted[2] == b"ok"
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"GET /stm?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"content-length" not in first.lower()  # a GET without a body says nothing
    assert server.requests[3].endswith(b'Content-Length: 7\r\n\r\n{"a":1}')
    upstreams.close()


async def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"
    upstreams = Upstreams()
    async with serving(lambda n, r: chunked) as server:
        assert (await get(upstreams, server))[2] == b"abcde"
    async with serving(lambda n, r: until_close if n == 1 else None) as server:
        assert (await get(upstreams, server))[2] == b"all of it"
        assert (await get(upstreams, server))[2] == b"all of it"
        assert server.connections == 2  # a closed connection is never reused


async def test_an_interim_answer_is_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    async with serving(lambda n, r: interim) as server:
        assert (await get(Upstreams(), server))[:1] == (200,)


async def test_nothing_listening_is_a_connect_error() -> None:
    with pytest.raises(UpstreamConnectError):
        await Upstreams().request("127.0.0.1", free_port(), "GET", "/", [], b"", 5)


async def test_no_answer_in_time_is_a_timeout_and_the_connection_is_dropped() -> None:
    upstreams = Upstreams()
    async with serving(lambda n, r: b"" if b"/slow" in r else OK) as server:
        with pytest.raises(TimeoutError):
            await upstreams.request("127.0.0.1", server.port, "GET", "/slow", [], b"", 0.2)
        assert (await get(upstreams, server))[0] == 200
        assert server.connections == 2


@pytest.mark.parametrize(("method", "sent"), [("GET", 2), ("PUT", 2), ("POST", 1)])
async def test_a_reused_connection_closed_unanswered_is_retried_once_if_idempotent(
    method: str, sent: int
) -> None:
    upstreams = Upstreams()
    async with serving(lambda n, r: OK if n == 1 else None) as server:
        await get(upstreams, server)  # the connection is now idle in the pool
        if sent == 2:
            assert (await get(upstreams, server, method))[0] == 200
        else:
            with pytest.raises(UpstreamError):
                await get(upstreams, server, method)
        assert len(server.requests) == 1 + sent


async def test_a_fresh_connection_closed_unanswered_is_an_error_not_a_retry() -> None:
    async with serving(lambda n, r: None) as server:
        with pytest.raises(UpstreamError):
            await get(Upstreams(), server)
        assert len(server.requests) == 1


async def test_garbage_is_an_error() -> None:
    async with serving(lambda n, r: b"SMTP ready\r\n\r\n") as server:
        with pytest.raises(UpstreamError):
            await get(Upstreams(), server)


async def test_at_most_limit_per_host_connections_at_once() -> None:
    release = asyncio.Event()
    open_at_once: list[int] = []

    class Slow(Server):
        async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            open_at_once.append(len(open_at_once) + 1)
            await release.wait()
            await super().handle(reader, writer)

    upstreams = Upstreams(limit_per_host=2)
    server = Slow(lambda n, r: OK)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    tasks = [asyncio.ensure_future(get(upstreams, server)) for _ in range(5)]
    await asyncio.sleep(0.2)
    assert open_at_once == [1, 2]
    release.set()
    assert [answer[0] for answer in await asyncio.gather(*tasks)] == [200] * 5
    assert server.connections == 2
    listener.close()
    upstreams.close()


async def test_idle_connections_are_closed_after_keepalive_and_their_host_forgotten() -> None:
    upstreams = Upstreams(keepalive=0.1)
    async with serving(lambda n, r: OK) as server:
        await get(upstreams, server)
        assert len(upstreams._hosts) == 1  # its idle connection
        await asyncio.sleep(0.35)
        assert upstreams._hosts == {}
        await get(upstreams, server)
        assert server.connections == 2  # a new one: the old was closed by the sweep
    upstreams.close()


async def test_a_host_without_connections_is_forgotten_at_once() -> None:
    upstreams = Upstreams()
    with pytest.raises(UpstreamConnectError):
        await upstreams.request("127.0.0.1", free_port(), "GET", "/", [], b"", 5)
    assert upstreams._hosts == {}


async def test_head_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError):
        await Upstreams().request("127.0.0.1", free_port(), "HEAD", "/", [], b"", 5)
