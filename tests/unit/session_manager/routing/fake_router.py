"""A router for the unit tests: records what the manager tells it, and reports the activity
a test sets (`FakeRouter.seen`), like HAProxy's stick table would."""

from __future__ import annotations

from session_manager.routing import Activity, RouteTarget

__all__ = ["FakeRouter"]


class FakeRouter:
    external = True

    def __init__(self) -> None:
        self.table: dict[str, RouteTarget] = {}
        self.seen: dict[str, Activity] = {}
        #: Every call in order: ("add", id) / ("remove", id).
        self.calls: list[tuple[str, str]] = []
        self.started = self.closed = 0
        #: Set to make the next calls fail as an unreachable router's would.
        self.broken: Exception | None = None
        #: After this many reads of `activity`, every open request has ended (None: never).
        self.drain_after: int | None = None
        self.activity_reads = 0

    async def start(self) -> None:
        self.started += 1

    async def close(self) -> None:
        self.closed += 1

    async def add_route(self, target: RouteTarget) -> None:
        self._check()
        self.calls.append(("add", target.session_id))
        self.table[target.session_id] = target

    async def remove_route(self, session_id: str) -> None:
        self._check()
        self.calls.append(("remove", session_id))
        self.table.pop(session_id, None)

    async def routes(self) -> dict[str, RouteTarget]:
        self._check()
        return dict(self.table)

    async def activity(self) -> dict[str, Activity]:
        self._check()
        self.activity_reads += 1
        if self.drain_after is not None and self.activity_reads > self.drain_after:
            # The requests open at the router ended (as HAProxy's conn_cur falls back to 0).
            self.seen = {k: Activity(a.last_request, 0, a.requests) for k, a in self.seen.items()}
        return dict(self.seen)

    async def activity_of(self, session_id: str) -> Activity | None:
        return (await self.activity()).get(session_id)

    def _check(self) -> None:
        if self.broken is not None:
            raise self.broken
