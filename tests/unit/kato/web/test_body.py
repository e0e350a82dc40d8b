"""The bounded body reader: refused by the declared length before reading, else while streaming."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from starlette.requests import Request
from starlette.types import Message

from kato.web.body import bounded_stream, read_body


class TooBig(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(size, limit)
        self.size, self.limit = size, limit


def _request(chunks: Sequence[bytes], declared: int | None = None) -> tuple[Request, list[int]]:
    """A request streaming ``chunks``; the list counts the chunks the app received."""
    received: list[int] = []
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]

    async def receive() -> Message:
        index = len(received)
        received.append(index)
        more = index + 1 < len(chunks)
        return {"type": "http.request", "body": chunks[index], "more_body": more}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive), received


async def test_the_whole_body_up_to_the_limit() -> None:
    request, _ = _request([b"ab", b"cd"], declared=4)
    assert await read_body(request, 4, TooBig) == b"abcd"


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request, received = _request([b"x" * 10], declared=10)
    with pytest.raises(TooBig) as caught:
        await read_body(request, 9, TooBig)
    assert (caught.value.size, caught.value.limit, received) == (10, 9, [])


async def test_an_undeclared_body_is_refused_at_the_chunk_that_passes_the_limit() -> None:
    request, received = _request([b"abc", b"def", b"ghi"])
    with pytest.raises(TooBig) as caught:
        await read_body(request, 5, TooBig)
    assert (caught.value.size, received) == (6, [0, 1])


async def test_the_stream_hands_over_chunks_as_they_come() -> None:
    request, _ = _request([b"ab", b"cd"])
    chunks = [chunk async for chunk in bounded_stream(request, 4, TooBig)]
    assert [chunk for chunk in chunks if chunk] == [b"ab", b"cd"]  # Starlette ends with b""


async def test_a_malformed_declared_length_is_left_to_the_streamed_count() -> None:
    request, _ = _request([b"abc"])
    request.scope["headers"] = [(b"content-length", b"-1")]
    assert await read_body(request, 3, TooBig) == b"abc"
