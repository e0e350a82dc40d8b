"""Every direct-lane route answers exactly like its regular route (kato.services.lane).

Each case sends the same requests to two apps, one with the lane and one without it
(``create_app(direct_lane=False)``), and compares what a client sees: status, body, headers
(content type, ``Vary`` and CORS, trace id, ``WWW-Authenticate``) and the metrics series the
request was counted under. A spy on the lane checks that it answered in the first app (or, for
browsers and refused requests, that it did not) and never in the second, so no comparison can
hold because both answers came the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from kato.processor import KatoProcessor
from kato.processor.errors import StorageError
from kato.processor.store.memory import MemoryStore
from kato.services import lane, routes
from kato.services.app import create_app
from kato.services.auth import OPEN_PATHS
from kato.services.errors import FastJSONResponse
from kato.services.settings import ServiceSettings
from tests.error_bodies import stable
from tests.unit.kato.services.app_helpers import MakeClient

TOKEN = "s3cret"
OBSERVATION = b'{"strings": ["c"], "unique_id": "u"}'
ROUTES = sorted(lane.lane_routes(routes.router.routes))
#: Answers that carry the service's uptime: its value (and so the length) differs between apps.
UPTIME_PATHS = {"/health", "/status"}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    #: ``(object, attribute, error)``: the gate's (``"gate"``) or processor's method that raises.
    fails: tuple[str, str, Exception] | None = None
    #: Whether the app with the lane answers on it (browsers and refused requests go around it).
    on_lane: bool = True


def _route_cases() -> Iterator[Any]:
    """The ordinary answers of every lane route: plain, HEAD, from a browser, with a token."""
    for method, path in ROUTES:
        name = f"{method} {path}"
        body = OBSERVATION if path == "/observe" else None
        yield pytest.param(Case(method, path, body=body), id=name)
        if method == "GET":
            yield pytest.param(Case("HEAD", path), id=f"HEAD {path}")
        if body is not None:  # the body is parsed as JSON whatever its declared type
            text = {"Content-Type": "text/plain"}
            yield pytest.param(Case(method, path, text, body), id=f"{name} as text/plain")
        browser = {"Origin": "https://x.org"}
        yield pytest.param(
            Case(method, path, browser, body, on_lane=False), id=f"{name} from a browser"
        )
        protected = {"KATO_PROCESSOR_TOKEN": TOKEN}
        for label, headers in (
            ("without token", {}),
            ("with a wrong token", {"Authorization": "Bearer nope"}),
            ("with the token", {"Authorization": f"Bearer {TOKEN}"}),
        ):
            admitted = path in OPEN_PATHS or label == "with the token"
            yield pytest.param(
                Case(method, path, headers, body, protected, on_lane=admitted),
                id=f"{name} {label}",
            )


def _streamed(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks  # no content-length: the body arrives chunked


ERROR_CASES = {
    "invalid observation": Case("POST", "/observe", body=b'{"strings": [1, "a", 2]}'),
    "wrong shape": Case("POST", "/observe", body=b'["a"]'),
    "malformed JSON": Case("POST", "/observe", body=b'{"strings": ["a"'),
    "empty body": Case("POST", "/observe", body=b""),
    "declared body over the limit": Case(
        "POST", "/observe", body=OBSERVATION, settings={"KATO_MAX_BODY_BYTES": 16}
    ),
    "storage fails on observe": Case(
        "POST", "/observe", body=OBSERVATION,
        fails=("processor", "observe", StorageError("disk full", {"op": "observe"})),
    ),
    "engine breaks on observe": Case(
        "POST", "/observe", body=OBSERVATION,
        fails=("processor", "observe", RuntimeError("secret internals")),
    ),
    "storage fails on learn": Case(
        "POST", "/learn", fails=("processor", "learn", StorageError("disk full"))
    ),
    "engine breaks on clear-stm": Case(
        "POST", "/clear-stm", fails=("processor", "clear_stm", RuntimeError("boom"))
    ),
    "engine breaks on stm": Case("GET", "/stm", fails=("gate", "stm", RuntimeError("boom"))),
}  # fmt: skip


def _break(client: TestClient, fails: tuple[str, str, Exception], mp: pytest.MonkeyPatch) -> None:
    owner, attribute, error = fails
    gate = client.app.state.runtime.gate  # type: ignore[attr-defined]

    def raise_error(*_: Any) -> Any:
        raise error

    mp.setattr(gate if owner == "gate" else gate.processor, attribute, raise_error)


def _send(client: TestClient, case: Case, streamed: bool) -> httpx.Response:
    content: Any = case.body
    if streamed and case.body is not None:
        content = _streamed(case.body[:8], case.body[8:])
    return client.request(
        case.method, case.path, content=content, headers={"X-Trace-ID": "t-1", **case.headers}
    )


def _seen(client: TestClient, answer: httpx.Response) -> tuple[Any, ...]:
    """What a client can tell about ``answer``, plus the series the app counted it under."""
    body: Any = answer.content
    if body and answer.headers.get("content-type") == "application/json":
        body = stable(answer.json())
    uptime = answer.status_code == 200 and answer.request.url.path in UPTIME_PATHS
    if uptime and body:
        assert isinstance(body.pop("uptime"), float)
    headers = [
        (name, value) for name, value in answer.headers.multi_items()
        if not (uptime and name == "content-length")
    ]  # fmt: skip
    metrics = client.app.state.runtime.metrics  # type: ignore[attr-defined]
    series = sorted(
        (tuple(sorted(sample.labels.items())), sample.value)
        for family in metrics.requests.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    return answer.status_code, headers, body, series


def _compare(
    make_client: MakeClient,
    lane_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
    case: Case,
    streamed: bool = False,
) -> tuple[Any, ...]:
    seen = []
    for direct_lane in (True, False):
        client = make_client(direct_lane=direct_lane, **case.settings)
        observe_headers = {"Authorization": f"Bearer {TOKEN}"}
        for symbol in ("a", "b"):  # something in STM, for /stm, /learn and /clear-stm
            client.post("/observe", json={"strings": [symbol]}, headers=observe_headers)
        if case.fails is not None:
            _break(client, case.fails, monkeypatch)
        lane_calls.clear()
        seen.append(_seen(client, _send(client, case, streamed)))
        on_lane = [case.path] if case.on_lane and direct_lane else []
        assert lane_calls == on_lane
    assert seen[0] == seen[1]
    return seen[0]


@pytest.mark.parametrize("case", list(_route_cases()))
def test_lane_route_answers_like_its_regular_route(
    make_client: MakeClient, lane_calls: list[str], monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    status, headers, _, _ = _compare(make_client, lane_calls, monkeypatch, case)
    if case.on_lane:
        assert status == 200 and ("x-trace-id", "t-1") in headers
        assert ("vary", "Origin") in headers  # CORS answers requests without Origin too
    else:
        assert status in (200, 401)


@pytest.mark.parametrize("case", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_lane_errors_answer_like_the_regular_route(
    make_client: MakeClient, lane_calls: list[str], monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    status, _, body, _ = _compare(make_client, lane_calls, monkeypatch, case)
    assert status >= 400 and body["status"] == status


def test_body_streamed_past_the_limit_answers_like_the_regular_route(
    make_client: MakeClient, lane_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = Case("POST", "/observe", body=OBSERVATION, settings={"KATO_MAX_BODY_BYTES": 16})
    status, _, body, _ = _compare(make_client, lane_calls, monkeypatch, case, streamed=True)
    assert status == 413 and body["error"]["code"] == "KATO_PAYLOAD_TOO_LARGE"


def test_every_lane_path_is_compared() -> None:
    assert {path for _, path in ROUTES} == lane.PATHS


class Refused(Exception):
    """An exception only the app's own handler knows."""


async def _on_refused(_: Request, exc: Exception) -> Response:
    return FastJSONResponse({"refused": str(exc)}, status_code=409)


@pytest.mark.parametrize("direct_lane", [True, False], ids=["lane", "regular"])
def test_errors_on_the_lane_reach_the_apps_exception_handlers(
    direct_lane: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def processor(config: ServiceSettings) -> KatoProcessor:
        return KatoProcessor(config.processor_config(), MemoryStore())

    def refuse(*_: Any) -> Any:
        raise Refused("not now")

    app = create_app(ServiceSettings(processor_id="unit"), processor, direct_lane=direct_lane)
    app.add_exception_handler(Refused, _on_refused)
    with TestClient(app) as client:
        monkeypatch.setattr(app.state.runtime.gate.processor, "observe", refuse)
        answer = client.post("/observe", json={"strings": ["a"]})
    assert (answer.status_code, answer.json()) == (409, {"refused": "not now"})


async def _endpoint(request: Request) -> Response:
    return Response()


async def _takes_a_query(request: Request, q: int = 0) -> Response:
    return Response()


def _sync(request: Request) -> Response:
    return Response()


async def _returns_a_dict(request: Request) -> dict[str, str]:
    return {}


def _router(
    path: str, method: str = "GET", endpoint: Any = _endpoint, instead_of: str = "", **options: Any
) -> APIRouter:
    """A good route at every lane path but ``instead_of`` (default ``path``), and a route at
    ``path`` with ``endpoint`` and ``options``."""
    router = APIRouter()
    for lane_path in sorted(lane.PATHS - {instead_of or path}):
        router.add_api_route(lane_path, _endpoint)
    router.add_api_route(path, endpoint, methods=[method], **options)
    return router


def _duplicated() -> APIRouter:
    router = _router("/stm")
    router.add_api_route("/stm", _endpoint)
    return router


@pytest.mark.parametrize(
    ("router", "problem"),
    [
        (_router("/observe", "POST", _sync), "is not a coroutine function"),
        (_router("/status", endpoint=_takes_a_query), "takes something besides the request"),
        (
            _router("/learn", "POST", dependencies=[Depends(lambda: None)]),
            "has dependencies",
        ),
        (
            _router("/stm", endpoint=_returns_a_dict, response_model=None),
            "is not annotated to return a Response",
        ),
        (_duplicated(), "GET /stm: served by two routes"),
        (_router("/health/{part}", instead_of="/health"), "no route at ['/health']"),
    ],
    ids=["sync", "query", "dependency", "returns", "twice", "missing"],
)
def test_lane_refuses_endpoints_it_cannot_serve_like_the_router(
    router: APIRouter, problem: str
) -> None:
    with pytest.raises(lane.LaneError, match=re.escape(problem)):
        lane.install(FastAPI(), router)


def _sync_handler(_: Request, exc: Exception) -> Response:
    return Response()


@pytest.mark.parametrize(
    ("key", "handler", "problem"),
    [
        (Refused, _sync_handler, "for Refused is not a coroutine function"),
        (409, _on_refused, "for 409: only exception classes are served"),
    ],
    ids=["sync", "status code"],
)
def test_lane_refuses_exception_handlers_it_cannot_call_like_starlette(
    key: Any, handler: Any, problem: str
) -> None:
    app = FastAPI()
    app.add_exception_handler(key, handler)
    with pytest.raises(lane.LaneError, match=re.escape(problem)):
        lane.install(app, routes.router)
