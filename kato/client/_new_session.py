"""What `AsyncKatoClient.session()` returns: `async with` creates the session on entry and
deletes it on exit; `await` just creates it. The sync `session()` needs no such object: it
returns the `Session`, itself a context manager that deletes the session on exit.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = ["NewSession"]

S = TypeVar("S", bound=AbstractAsyncContextManager[Any])


class NewSession(Generic[S]):
    def __init__(self, create: Coroutine[Any, Any, S]) -> None:
        self._create = create
        self._session: S | None = None

    def __await__(self) -> Generator[Any, None, S]:
        return self._create.__await__()

    async def __aenter__(self) -> S:
        self._session = await self._create
        return self._session

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.__aexit__(kind, exc, tb)
