"""The app's routes as they are matched: (path template, path regex, methods, parameters).

FastAPI 0.165 keeps an included router as one `_IncludedRouter` entry whose routes, prefix
applied, come from its private `effective_candidates()`, and puts the route as written (its
path without the prefix) in `scope["route"]`; this module is the one place that knows it (the
manager's 405 `Allow`, its root routes' precedence and the spans' route names read it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from starlette.routing import BaseRoute

__all__ = ["RouteEntry", "route_table", "route_template"]


class RouteEntry(NamedTuple):
    path: str
    regex: re.Pattern[str]
    methods: frozenset[str]  # empty for a WebSocket route
    parameters: int
    route: object  # the route as written (`scope["route"]` once routed)


def route_table(routes: Iterable[BaseRoute]) -> Iterator[RouteEntry]:
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:
            yield from route_table(candidates())
        elif getattr(route, "path_regex", None) is not None:
            yield RouteEntry(
                route.path,  # type: ignore[attr-defined]
                route.path_regex,  # type: ignore[attr-defined]
                frozenset(getattr(route, "methods", None) or ()),
                len(getattr(route, "param_convertors", {})),
                getattr(route, "original_route", route),
            )


def route_template(scope: Mapping[str, Any]) -> str | None:
    """The full path template of the route that took the request (`/session/{session_id}`,
    not the `/{session_id}` its router wrote); None before routing. A route included under
    two prefixes is told apart by the request's path."""
    route = scope.get("route")
    if route is None:
        return None
    app = scope.get("app")
    templates: dict[int, list[tuple[re.Pattern[str], str]]] | None = getattr(
        app, _CACHE, None
    )
    if templates is None:
        templates = {}
        for entry in route_table(getattr(getattr(app, "router", None), "routes", ())):
            templates.setdefault(id(entry.route), []).append((entry.regex, entry.path))
        with contextlib.suppress(AttributeError):  # an app without a __dict__: not cached
            setattr(app, _CACHE, templates)
    for regex, path in templates.get(id(route), ()):
        if regex.match(scope["path"]):
            return path
    written = getattr(route, "path", None)
    return written if isinstance(written, str) else None


_CACHE = "_kato_route_templates"
