"""The app's routes as they are matched: (path template, path regex, methods, parameters).

FastAPI 0.165 keeps an included router as one `_IncludedRouter` entry whose routes, prefix
applied, come from its private `effective_candidates()`; this module is the one place that
knows it (the 405 answer's `Allow` and the root routes' precedence read the table).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from starlette.routing import BaseRoute

__all__ = ["RouteEntry", "route_table"]


class RouteEntry(NamedTuple):
    path: str
    regex: re.Pattern[str]
    methods: frozenset[str]  # empty for a WebSocket route
    parameters: int


def route_table(routes: Iterable[BaseRoute]) -> Iterator[RouteEntry]:
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:
            yield from route_table(candidates())
        elif getattr(route, "path_regex", None) is not None:
            yield RouteEntry(
                route.path_format,  # type: ignore[attr-defined]
                route.path_regex,  # type: ignore[attr-defined]
                frozenset(getattr(route, "methods", None) or ()),
                len(getattr(route, "param_convertors", {})),
            )
