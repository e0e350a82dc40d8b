"""Each caller's default session: where v1 routes at the manager's root go without a session.

The v2 architecture keeps every v1 endpoint "with automatic session creation: requests without
session use a default session". A caller is named by its credential: `operator` for the API key
(or for everyone when no key is set), `user:<sub>` for a user token (owned by `sub`, counted in
its quota; the prefix keeps a subject named `operator` from reaching the operator's). Its default
session is an ordinary session (no TTL, hibernated when idle, listed with `default: true`,
deleted with `DELETE /session/{id}`) whose record says whose default it is (`default_of`,
unique in the registry), made on the caller's first root request; after a deletion the next
root request makes a new, empty one.
"""

from __future__ import annotations

import asyncio

from .sessions import SessionService

__all__ = ["OPERATOR", "DefaultSessions", "caller_of"]

#: The caller behind the API key (or behind no key at all).
OPERATOR = "operator"


def caller_of(subject: str | None) -> str:
    """The caller a user token's `sub` (None: the operator) names."""
    return OPERATOR if subject is None else f"user:{subject}"


class DefaultSessions:
    """Caller -> its default session's id, made once even when first requests arrive together."""

    def __init__(self, service: SessionService) -> None:
        self.service = service
        self._known: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # only while a caller's first requests wait

    async def session_id(self, caller: str, owner: str | None = None) -> str:
        """The id of `caller`'s default session, made now (owned by `owner`) if it has none."""
        known = self._known.get(caller)
        if known is not None:
            return known
        lock = self._locks.setdefault(caller, asyncio.Lock())
        try:
            async with lock:
                known = self._known.get(caller)
                if known is not None:  # made while this request waited
                    return known
                registry = self.service.registry
                record = await registry.call(registry.default_session, caller)
                if record is None:
                    record = await self.service.create(owner, {}, None, default_of=caller)
                self._known[caller] = record.session_id
                return record.session_id
        finally:
            if not lock.locked() and self._locks.get(caller) is lock:
                del self._locks[caller]  # a lock lives only while a first request needs it

    def forget(self, caller: str, session_id: str) -> None:
        """`session_id` turned out unknown (deleted, expired): look again next time."""
        if self._known.get(caller) == session_id:
            del self._known[caller]
