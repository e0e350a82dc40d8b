"""A request body read with a size limit, refused as soon as it is known to be too large.

The declared ``Content-Length`` is checked before anything is read, and the streamed size after
every chunk (a client may send no length, or a false one). Each service raises its own error,
so the caller names it: ``too_large(size, limit)`` builds the exception to raise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from starlette.requests import Request

__all__ = ["TooLarge", "bounded_stream", "read_body"]

#: Builds the error for a body of ``size`` bytes (at least) against a limit of ``limit`` bytes.
TooLarge = Callable[[int, int], Exception]


def _refuse_declared(request: Request, limit: int, too_large: TooLarge) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared), limit)


async def bounded_stream(request: Request, limit: int, too_large: TooLarge) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, for a reader that consumes them on the way."""
    _refuse_declared(request, limit, too_large)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(size, limit)
        yield chunk


async def read_body(request: Request, limit: int, too_large: TooLarge) -> bytes:
    """The whole body (at most ``limit`` bytes).

    It counts for itself rather than join :func:`bounded_stream`: on the proxy's path the
    async generator cost 1.4 µs a request (one-chunk body: 2.5 µs here, 3.9 µs through it).
    """
    _refuse_declared(request, limit, too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)
