"""The launchers over real loopback sockets: a child process (Python's own http.server, whose
start-up probe `/health/startup` is a file) and an ASGI app in a thread."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kato.web.launcher import ServerProcess, ThreadServer, free_port


def _file_server(root: Path) -> ServerProcess:
    (root / "health").mkdir()
    (root / "health" / "startup").write_text("ok")
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return ServerProcess([*command, "--directory", str(root)], {}, root / "server.log", port)


def test_a_child_serves_once_started_and_restarts_on_the_same_port(tmp_path: Path) -> None:
    server = _file_server(tmp_path)
    with server:
        assert server.pid is not None and server.rss_bytes() > 0
        assert httpx.get(f"{server.url}/health/startup").text == "ok"
    assert server.pid is None and server.rss_bytes() == 0
    server.start()
    try:
        assert httpx.get(f"{server.url}/health/startup").status_code == 200
    finally:
        server.kill()
    assert server.pid is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health/startup")


def test_a_child_that_exits_at_start_up_fails_with_the_end_of_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; sys.exit('no config, giving up')"]
    server = ServerProcess(command, {}, tmp_path / "child.log")
    with pytest.raises(RuntimeError) as caught:
        server.start(timeout=60)  # fails as soon as the child is gone, not after 60 s
    assert "server exited with status 1 before becoming ready" in str(caught.value)
    assert "no config, giving up" in str(caught.value)
    assert server.pid is None


def test_a_manager_with_a_bad_setting_says_which(tmp_path: Path) -> None:
    """Exit status 2 and the one line of kato/web/settings_errors.py, not a traceback."""
    command = [sys.executable, "-m", "session_manager"]
    env = {"KATO_PORT": "http", "KATO_STATE_DIR": str(tmp_path / "state")}
    server = ServerProcess(command, env, tmp_path / "manager.log")
    with pytest.raises(RuntimeError) as caught:
        server.start(timeout=60)
    message = str(caught.value)
    assert "server exited with status 2 before becoming ready" in message
    assert message.endswith(
        "kato-manager: KATO_PORT=http is invalid: not an integer (allowed 0..65535)\n"
    )


def test_the_child_gets_the_given_environment(tmp_path: Path) -> None:
    script = "import os, sys; sys.exit(os.environ['KATO_WEB_TEST'])"
    server = ServerProcess(
        [sys.executable, "-c", script], {"KATO_WEB_TEST": "seen"}, tmp_path / "l"
    )
    with pytest.raises(RuntimeError, match="seen"):
        server.start()


def test_an_app_served_in_a_thread() -> None:
    app = Starlette(routes=[Route("/hi", lambda request: PlainTextResponse("hello"))])
    with ThreadServer(app) as server:
        assert httpx.get(f"{server.url}/hi").text == "hello"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/hi")
