"""The error tree from answers, and the retry rule (503 + Retry-After), each client test on
the sync and the async half (`flavour`).

A `httpx.MockTransport` plays the server here: what is under test is the client's reading
of answers and its decision to send again, not the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kato.client import (
    AuthError,
    CapacityError,
    KatoError,
    KatoTimeoutError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    RetryPolicy,
    SessionInfo,
    UnavailableError,
    ValidationError,
)
from kato.client._errors import error_for, parse_retry_after
from tests.unit.kato.client.support import Flavour

Handler = Callable[[httpx.Request], httpx.Response]


def _error(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": "m", "details": {"k": 1}}, "status": status}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "KATO_UNAUTHORIZED", AuthError),
        (404, "KATO_SESSION_NOT_FOUND", NotFoundError),
        (404, "KATO_PATTERN_NOT_FOUND", NotFoundError),
        (400, "KATO_UNKNOWN_GENE", ValidationError),
        (413, "KATO_PAYLOAD_TOO_LARGE", ValidationError),
        (422, "KATO_VALIDATION_ERROR", ValidationError),
        (503, "KATO_CAPACITY", CapacityError),
        (502, "KATO_PROCESSOR_START_FAILED", UnavailableError),
        (503, "KATO_NOT_READY", UnavailableError),
        (500, "KATO_INTERNAL_ERROR", KatoError),
    ],
)
def test_answers_map_to_the_error_tree(status: int, code: str, cls: type[KatoError]) -> None:
    response = _error(status, code, **{"Retry-After": "7"})
    error = error_for(status, response.content, response.headers)
    assert type(error) is cls
    assert (error.status, error.code, error.details, error.retry_after) == (
        status,
        code,
        {"k": 1},
        7,
    )
    assert code in str(error)


def test_non_kato_error_bodies_are_read_too() -> None:
    error = error_for(405, json.dumps({"detail": "Method Not Allowed"}).encode(), {})
    assert (error.code, error.message) == ("KATO_HTTP_ERROR", "Method Not Allowed")
    assert error_for(502, b"<html>bad gateway</html>", {}).message == "<html>bad gateway</html>"


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_policy_bounds() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(max_wait=-1)


Answer = Callable[[], httpx.Response]


def _counting(answers: list[Answer]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A server answering `answers` in turn (the last one again and again)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]()

    return httpx.MockTransport(handle), seen


def _stm() -> httpx.Response:
    return httpx.Response(200, json={"stm": [["a"]], "processor_id": "p"})


def _busy() -> httpx.Response:
    return _error(503, "KATO_CAPACITY", **{"Retry-After": "0"})


def _observed() -> httpx.Response:
    return httpx.Response(200, json={"processor_id": "p", "time": 1, "unique_id": "u"})


SESSION = {"session_id": "s1", "processor_id": "p", "user_id": None, "status": "running"}


def _session(flavour: Flavour, kato: Any) -> Any:
    return flavour.Session(kato, SessionInfo.from_dict(SESSION))


def test_idempotent_calls_are_retried_after_503_with_retry_after(flavour: Flavour) -> None:
    transport, seen = _counting([_busy, _busy, _stm])
    with flavour.KatoClient("http://m", transport=transport) as kato:
        assert _session(flavour, kato).stm().stm == [["a"]]
    assert len(seen) == 3
    assert {str(r.url) for r in seen} == {"http://m/session/s1/stm"}


def test_retries_are_bounded(flavour: Flavour) -> None:
    transport, seen = _counting([_busy])
    kato = flavour.KatoClient("http://m", transport=transport, retry=RetryPolicy(attempts=3))
    with kato, pytest.raises(CapacityError) as caught:
        _session(flavour, kato).stm()
    assert len(seen) == 3 and caught.value.retry_after == 0


def test_non_idempotent_calls_are_not_retried_unless_asked(flavour: Flavour) -> None:
    transport, seen = _counting([_busy])
    kato = flavour.KatoClient("http://m", transport=transport)
    with kato:
        with pytest.raises(CapacityError):
            _session(flavour, kato).observe(strings=["a"])
        assert len(seen) == 1
        with pytest.raises(CapacityError):
            kato.create_session(user_id="u")
        assert len(seen) == 2
    transport, seen = _counting([_busy, _observed])
    retry = RetryPolicy(non_idempotent=True)
    with flavour.KatoClient("http://m", transport=transport, retry=retry) as kato:
        assert _session(flavour, kato).observe(strings=["a"]).time == 1
    assert len(seen) == 2
    assert [json.loads(r.content) for r in seen] == [
        {"strings": ["a"], "vectors": [], "emotives": {}}
    ] * 2


def test_no_retry_without_retry_after_or_beyond_max_wait(flavour: Flavour) -> None:
    for answer in (
        lambda: _error(503, "KATO_NOT_READY"),
        lambda: _error(503, "KATO_CAPACITY", **{"Retry-After": "60"}),
    ):
        transport, seen = _counting([answer, _stm])
        kato = flavour.KatoClient("http://m", transport=transport, retry=RetryPolicy(max_wait=30))
        with kato, pytest.raises(UnavailableError):
            _session(flavour, kato).stm()
        assert len(seen) == 1


def test_network_failures_are_unavailable_errors(flavour: Flavour) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    kato = flavour.KatoClient("http://m", transport=httpx.MockTransport(refuse))
    with kato, pytest.raises(UnavailableError) as refused:
        kato.list_sessions()
    assert refused.value.code == "KATO_CONNECTION_FAILED" and refused.value.status is None
    kato = flavour.KatoClient("http://m", transport=httpx.MockTransport(slow))
    with kato, pytest.raises(KatoTimeoutError) as timed_out:
        kato.list_sessions()
    assert timed_out.value.code == "KATO_TIMEOUT"


def test_an_unreadable_answer_is_a_protocol_error(flavour: Flavour) -> None:
    transport, _ = _counting([lambda: httpx.Response(200, json={"unexpected": True})])
    with flavour.KatoClient("http://m", transport=transport) as kato, pytest.raises(ProtocolError):
        _session(flavour, kato).stm()
    transport, _ = _counting([lambda: httpx.Response(200, content=b"not json")])
    with flavour.KatoClient("http://m", transport=transport) as kato, pytest.raises(ProtocolError):
        kato.list_sessions()


def test_ids_in_paths_are_encoded_one_segment_at_a_time(flavour: Flavour) -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"detail": "no"})

    with flavour.KatoClient("http://m/prefix/", transport=httpx.MockTransport(handle)) as kato:
        with pytest.raises(NotFoundError):
            _session(flavour, kato).pattern("PTRN|a/b c")
        with pytest.raises(NotFoundError):
            kato.get_session("../sessions")
    assert [r.url.raw_path for r in seen] == [
        b"/prefix/session/s1/pattern/PTRN%7Ca%2Fb%20c",
        b"/prefix/session/..%2Fsessions",
    ]


@pytest.mark.parametrize(
    ("code", "reason", "cls", "status"),
    [
        (4404, "KATO_SESSION_NOT_FOUND", NotFoundError, 404),
        (4503, "KATO_CAPACITY", CapacityError, 503),
        (4401, "KATO_UNAUTHORIZED", AuthError, 401),
        (1008, "KATO_UNAUTHORIZED", AuthError, None),
        (1011, "KATO_PROCESSOR_START_FAILED", UnavailableError, None),
        (1011, "", UnavailableError, None),
    ],
)
def test_close_frames_map_to_the_error_tree(
    code: int, reason: str, cls: type[KatoError], status: int | None
) -> None:
    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Close

    from kato.client._ws import closed as _closed

    error = _closed(ConnectionClosedError(Close(code, reason), None))
    assert (type(error), error.status) == (cls, status)
    assert error.code == (reason or "KATO_CONNECTION_CLOSED")


def test_a_rate_limit_is_retried_after_its_retry_after_and_a_quota_is_not(
    flavour: Flavour,
) -> None:
    limited = lambda: _error(429, "KATO_RATE_LIMITED", **{"Retry-After": "0"})  # noqa: E731
    transport, seen = _counting([limited, _stm])
    with flavour.KatoClient("http://m", transport=transport) as kato:
        assert _session(flavour, kato).stm().stm == [["a"]]
    assert len(seen) == 2
    transport, seen = _counting([lambda: _error(429, "KATO_QUOTA_EXCEEDED")])
    with (
        flavour.KatoClient("http://m", transport=transport) as kato,
        pytest.raises(RateLimitError) as caught,
    ):
        kato.create_session()
    assert len(seen) == 1 and caught.value.code == "KATO_QUOTA_EXCEEDED"


def test_a_user_token_is_sent_as_the_bearer(flavour: Flavour) -> None:
    transport, seen = _counting([_stm])
    with flavour.KatoClient("http://m", token="user.jwt.here", transport=transport) as kato:
        _session(flavour, kato).stm()
    assert seen[0].headers["Authorization"] == "Bearer user.jwt.here"
    with pytest.raises(ValueError, match="not both"):
        flavour.KatoClient("http://m", api_key="k", token="t")
