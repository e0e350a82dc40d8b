"""Helpers of the client unit tests (a unique module name: `conftest` is ambiguous).

`flavour` runs a test against both halves of the client: the sync one, and the async one
driven from the test's sync code through `Blocking`, which hands every coroutine to an event
loop in a thread (anyio's blocking portal, in small). One test body, so the halves cannot be
tested differently.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import pytest

from kato.client import (
    AsyncKatoClient,
    AsyncProcessorClient,
    AsyncSession,
    KatoClient,
    ProcessorClient,
    Session,
)

TOKEN = "processor-token"
#: Objects of these modules are wrapped in `Blocking` when an async call returns them.
_ASYNC_MODULES = ("kato.client._async.", "kato.client._new_session")


class Portal:
    """An event loop running in a thread; `call` waits there for an awaitable's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, awaitable: Any) -> Any:
        async def wait() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _chunks(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


class Blocking:
    """An async client object used with sync syntax: `with`, `for`, and plain calls."""

    def __init__(self, target: Any, portal: Portal) -> None:
        self._target, self._portal = target, portal

    def _wrap(self, value: Any) -> Any:
        if inspect.isawaitable(value) and not hasattr(value, "__aenter__"):
            value = self._portal.call(value)
        if inspect.isasyncgen(value) or type(value).__module__.startswith(_ASYNC_MODULES):
            return Blocking(value, self._portal)
        return value

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.ismethod(value):
            return self._wrap(value)
        return lambda *args, **kwargs: self._wrap(
            value(*map(unwrap, args), **{k: unwrap(v) for k, v in kwargs.items()})
        )

    def __enter__(self) -> Any:
        return self._wrap(self._target.__aenter__())

    def __exit__(self, *exc_info: Any) -> Any:
        return self._portal.call(self._target.__aexit__(*exc_info))

    def __iter__(self) -> Iterator[Any]:
        iterator = self._target.__aiter__()
        try:
            while True:
                try:
                    yield self._wrap(self._portal.call(iterator.__anext__()))
                except StopAsyncIteration:
                    return
        finally:
            if hasattr(iterator, "aclose"):
                self._portal.call(iterator.aclose())


def unwrap(value: Any) -> Any:
    """What an async method takes for `value`: the object behind a `Blocking`, and the chunks
    of a sync iterator as an async one."""
    if isinstance(value, Blocking):
        return value._target
    if isinstance(value, Iterator):
        return _chunks(value)
    return value


class Flavour:
    """The constructors of one half of the client, as the sync test code sees them."""

    def __init__(self, portal: Portal | None) -> None:
        self.portal = portal
        self.name = "sync" if portal is None else "async"

    def _make(self, sync: type, async_: type, *args: Any, **kwargs: Any) -> Any:
        if self.portal is None:
            return sync(*args, **kwargs)
        return Blocking(async_(*map(unwrap, args), **kwargs), self.portal)

    def KatoClient(self, *args: Any, **kwargs: Any) -> Any:
        return self._make(KatoClient, AsyncKatoClient, *args, **kwargs)

    def ProcessorClient(self, *args: Any, **kwargs: Any) -> Any:
        return self._make(ProcessorClient, AsyncProcessorClient, *args, **kwargs)

    def Session(self, *args: Any, **kwargs: Any) -> Any:
        return self._make(Session, AsyncSession, *args, **kwargs)


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> Iterator[Flavour]:
    """Each test that takes it runs twice: on `KatoClient` & co., then on `AsyncKatoClient` &
    co. (through `Blocking`)."""
    if request.param == "sync":
        yield Flavour(None)
        return
    portal = Portal()
    yield Flavour(portal)
    portal.close()
