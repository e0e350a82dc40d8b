"""The `Router` seam: what carries a running session's traffic (JupyterHub's `Proxy`).

The manager is the control plane: it decides what runs where and tells the router. A router
holds one route per running, unpaused session (its container's address and token), carries
the requests of routed sessions, and reports what it saw per session (`Activity`) so that
idle reaping and hibernation read the traffic the router carried, not only the manager's.
A request for a session without a route (hibernated, paused, starting, unknown) goes to the
manager, which wakes the session, serves that first request itself and adds the route.

Two implementations (`KATO_ROUTER`):
- `builtin` (`BuiltinRouter`): the manager's own aiohttp proxy and WebSocket relay
  (session_manager/proxy.py, ws_relay.py) carry everything; its routes are the manager's
  route table, so adding or removing one is nothing more, and its activity is the
  manager's own in-flight counts (`SessionService.routes`);
- `haproxy` (`routing.haproxy.HaproxyRouter`): HAProxy in front, routes in its maps,
  activity from its stick table; it outlives the manager (routes keep serving while the
  manager restarts) and is adopted again by the next manager on the same state directory.

The rules every router keeps, checked by the manager at the calls:
- `add_route` after the container answers; `remove_route` before the session's container
  is paused, snapshotted, removed or found gone;
- after `remove_route`, a new request reaches the manager; one already past the router's
  lookup is counted in `Activity.open` until it ends, so "removed, then `open == 0`" means
  nothing of the session is in flight outside the manager (what hibernation needs);
- both are idempotent, so re-synchronisation after a restart is "add what the registry
  runs, remove what it does not".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Activity", "BuiltinRouter", "RouteTarget", "Router"]


@dataclass(frozen=True)
class RouteTarget:
    """Where a routed session's requests go: its container's base URL and bearer token."""

    session_id: str
    internal_url: str
    token: str


@dataclass(frozen=True)
class Activity:
    """What the router saw of one session: its last request (epoch seconds; None: none
    since the router started), requests and WebSockets open now, requests in all."""

    last_request: float | None
    open: int
    requests: int


class Router(Protocol):
    """What carries running sessions' traffic; see the module docstring for the rules."""

    #: Whether the router carries traffic the manager does not see (its activity counts).
    external: bool

    async def start(self) -> None: ...

    async def close(self) -> None:
        """The manager stops: an external router keeps serving its routes."""

    async def add_route(self, target: RouteTarget) -> None: ...

    async def remove_route(self, session_id: str) -> None: ...

    async def routes(self) -> dict[str, RouteTarget]: ...

    async def activity(self) -> dict[str, Activity]: ...

    async def activity_of(self, session_id: str) -> Activity | None:
        """One session's activity (None: the router saw none of it)."""


class BuiltinRouter:
    """The manager's own proxy: the route table is the manager's, so there is nothing to
    tell and nothing extra to report."""

    external = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def add_route(self, target: RouteTarget) -> None:
        return None

    async def remove_route(self, session_id: str) -> None:
        return None

    async def routes(self) -> dict[str, RouteTarget]:
        return {}

    async def activity(self) -> dict[str, Activity]:
        return {}

    async def activity_of(self, session_id: str) -> Activity | None:
        return None
