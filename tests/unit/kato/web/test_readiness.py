"""The start-up probe wait against an httpx MockTransport (no sockets): what NotReady tells."""

from __future__ import annotations

import httpx
import pytest

from kato.web.readiness import NotReady, wait_until_ready


def test_a_server_that_stopped_is_not_waited_for() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(NotReady) as caught:
        wait_until_ready(
            "http://s:1",
            timeout=60,
            is_running=lambda: False,
            transport=httpx.MockTransport(refuse),
        )
    assert caught.value.exited and caught.value.last_problem == "/health/startup: ConnectError"


def test_the_time_running_out_names_the_last_answer() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    with pytest.raises(NotReady) as caught:
        wait_until_ready("http://s:1", timeout=0.05, is_running=lambda: True, transport=transport)
    assert not caught.value.exited and caught.value.last_problem == "/health/startup answered 500"
    assert "not ready after 0.05s" in str(caught.value)
