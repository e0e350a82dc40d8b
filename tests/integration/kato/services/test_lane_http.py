"""Over real HTTP (uvicorn on loopback), a lane route answers as the full stack does.

A request with an ``Origin`` header goes the full way (router, FastAPI's handler); the same request
without it takes the direct lane (kato.services.lane). After the same reset and the same two
observations, both answers must match in status, body and every header but the ones CORS gives
browsers only (``access-control-*``), errors included. The unit tests compare the lane with an app
built without it; this checks the same promise on the server the containers run.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kato.services import lane, routes
from kato.services.testing import ServiceProcess
from tests.integration.kato.services.launcher import Launcher

TOKEN = "lane-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUTES = sorted(lane.lane_routes(routes.router.routes))
OBSERVATION = b'{"strings": ["c"], "unique_id": "u"}'
TOO_LARGE = b'{"strings": ["' + b"x" * 100 + b'"]}'  # KATO_MAX_BODY_BYTES is 64 below
Body = bytes | tuple[bytes, ...] | None  # a tuple is sent chunked, without content-length

CASES: list[tuple[str, str, dict[str, str], Body]] = [
    *((method, path, AUTH, OBSERVATION if path == "/observe" else None) for method, path in ROUTES),
    *(("HEAD", path, AUTH, None) for method, path in ROUTES if method == "GET"),
    ("POST", "/observe", AUTH, b'{"strings": [1, "a"]}'),
    ("POST", "/observe", AUTH, b'{"strings": ["a"'),
    ("POST", "/observe", AUTH, b""),
    ("POST", "/observe", AUTH, TOO_LARGE),
    ("POST", "/observe", AUTH, (TOO_LARGE[:40], TOO_LARGE[40:])),
    ("POST", "/observe", {}, OBSERVATION),
    ("GET", "/health", {}, None),
]


@pytest.fixture(scope="module")
def service(module_launcher: Launcher) -> ServiceProcess:
    return module_launcher.start(
        processor_id="lane", KATO_PROCESSOR_TOKEN=TOKEN, KATO_MAX_BODY_BYTES="64"
    )


def _content(body: Body) -> Any:
    if isinstance(body, tuple):
        return iter(body)
    return body


def _answer(http: httpx.Client, method: str, path: str, headers: dict[str, str], body: Body) -> Any:
    http.post("/clear-all", headers=AUTH).raise_for_status()
    for symbol in ("a", "b"):
        http.post("/observe", json={"strings": [symbol]}, headers=AUTH).raise_for_status()
    answer = http.request(
        method, path, headers={"X-Trace-ID": "t-1", **headers}, content=_content(body)
    )
    content: Any = answer.json() if answer.content else b""
    uptime = isinstance(content, dict) and content.pop("uptime", None) is not None
    uptime = uptime or (method == "HEAD" and path in ("/health", "/status"))
    kept = [
        (name, value) for name, value in answer.headers.multi_items()
        if not name.startswith("access-control-") and name != "date"
        and not (uptime and name == "content-length")  # the uptime's digits vary
    ]  # fmt: skip
    return answer.status_code, content, kept


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    CASES,
    ids=[f"{m} {p} {'token' if h else 'no token'} {str(b)[:30]}" for m, p, h, b in CASES],
)
def test_lane_answers_like_the_full_stack_over_http(
    service: ServiceProcess, method: str, path: str, headers: dict[str, str], body: Body
) -> None:
    with httpx.Client(base_url=service.url, timeout=30) as http:
        on_lane = _answer(http, method, path, headers, body)
        full_way = _answer(http, method, path, {**headers, "Origin": "https://x.org"}, body)
    assert on_lane == full_way
    status, _, kept = on_lane
    assert ("x-trace-id", "t-1") in kept
    assert (("vary", "Origin") in kept) == (status != 401)  # 401 is refused outside CORS

