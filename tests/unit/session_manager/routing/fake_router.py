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
        return dict(self.seen)

    def _check(self) -> None:
        if self.broken is not None:
            raise self.broken
