"""Sessions per user (`KATO_MAX_SESSIONS_PER_USER`, 0 = no limit): a quota on creates.

Sessions a `user_id` owns count whatever their status. Hibernated ones count: each keeps a
data volume and a registry row, and waking one is a request away, so a user could otherwise
hold any number of them. A user's default session (root routes) counts too. Creates in flight
count as well, so two concurrent creates cannot both take the last place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from .errors import QuotaExceededError

__all__ = ["SessionQuota"]


class SessionQuota:
    """`claim(user_id)` around a create: refused (429) when the user is at the limit."""

    def __init__(
        self,
        limit: int,
        count: Callable[[str], Awaitable[int]],
        on_refusal: Callable[[str, str | None], None] = lambda reason, user: None,
    ) -> None:
        self.limit = limit
        self.on_refusal = on_refusal
        self._count = count
        self._pending: dict[str, int] = {}  # creates in flight; emptied as they end
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def claim(self, user_id: str | None) -> AsyncIterator[None]:
        if not self.limit or user_id is None:
            yield
            return
        async with self._lock:
            owned = await self._count(user_id) + self._pending.get(user_id, 0)
            if owned >= self.limit:
                self.on_refusal("quota", user_id)
                raise QuotaExceededError(
                    f"user {user_id} has {self.limit} sessions, the most "
                    "KATO_MAX_SESSIONS_PER_USER allows",
                    {"user_id": user_id, "limit": "KATO_MAX_SESSIONS_PER_USER", "max": self.limit},
                )
            self._pending[user_id] = self._pending.get(user_id, 0) + 1
        try:
            yield
        finally:
            left = self._pending.pop(user_id) - 1
            if left:
                self._pending[user_id] = left
