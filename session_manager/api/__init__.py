"""The manager's HTTP API, apart from the lifecycle (`sessions.py`) and storage (`registry.py`).

- `sessions`: the session routes, written once and served under both prefixes, `/session/…`
  (v1) and `/v2/sessions/…` (the v2 architecture's);
- `root`: v1 processor routes at the manager's root, for the session `X-Session-ID` names or
  the caller's default session;
- `operator`: the manager's own metrics routes;
- `deps`: the dependencies that give a route its service and session id.
"""

from __future__ import annotations

from fastapi import FastAPI

from . import operator, root, sessions

__all__ = ["include_api"]


def include_api(app: FastAPI) -> None:
    """Every API route, in matching order: the manager's own paths first, then the session
    routes, then the root routes (which skip any path the manager already serves)."""
    app.include_router(operator.router)
    sessions.include(app)
    root.include(app)
