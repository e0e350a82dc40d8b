"""The data plane: what carries running sessions' traffic (`router.Router`), and
`make_router` choosing one by `KATO_ROUTER`."""

from __future__ import annotations

from ..settings import ManagerSettings
from .router import Activity, BuiltinRouter, Router, RouteTarget

__all__ = ["Activity", "BuiltinRouter", "RouteTarget", "Router", "make_router"]


def make_router(settings: ManagerSettings) -> Router:
    """The router `KATO_ROUTER` names; HAProxy's module is imported only when chosen."""
    if settings.router == "builtin":
        return BuiltinRouter()
    from .haproxy import HaproxyRouter
    from .haproxy_config import HaproxyParams, default_maxconn

    manager_host, manager_port = settings.api_address
    params = HaproxyParams(
        public_host=settings.host,
        public_port=settings.port,
        manager_host=manager_host,
        manager_port=manager_port,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
        proxy_timeout=settings.proxy_timeout,
        retry_after=settings.retry_after,
        max_sessions=settings.max_sessions,
        maxconn=default_maxconn(),
    )
    return HaproxyRouter(state_dir=settings.state_dir, params=params)
