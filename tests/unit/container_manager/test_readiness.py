"""Readiness polling against an httpx MockTransport (no sockets)."""

from __future__ import annotations

import httpx
import pytest

from container_manager import ProcessorStartError
from container_manager.readiness import wait_until_ready


def test_returns_once_health_answers_200() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": "healthy"})

    wait_until_ready(
        "http://p:8000", timeout=5, is_running=lambda: True, transport=httpx.MockTransport(handler)
    )
    assert calls == ["/health/startup"] * 3


def test_times_out_with_last_problem() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503))
    with pytest.raises(ProcessorStartError) as caught:
        wait_until_ready("http://p:8000", timeout=0.1, is_running=lambda: True, transport=transport)
    assert "not ready after" in caught.value.message
    assert caught.value.diagnostics == ["/health/startup answered 503"]


def test_fails_fast_when_container_exits() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503))
    with pytest.raises(ProcessorStartError) as caught:
        wait_until_ready("http://p:8000", timeout=60, is_running=lambda: False, transport=transport)
    assert "exited" in caught.value.message
