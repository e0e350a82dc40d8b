"""The haproxy router's pure parts: its configuration (checked by `haproxy -c` when HAProxy
is installed), the runtime API's answers, route values, and the settings that select it.
The router against a real HAProxy and real containers is in
tests/integration/session_manager/routing/test_haproxy_docker.py."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from session_manager.routing import make_router
from session_manager.routing.haproxy import HaproxyRouter, RouteNotRoutable, map_value
from session_manager.routing.haproxy_config import (
    HaproxyLayout,
    HaproxyParams,
    error_file,
    error_files,
    render_config,
)
from session_manager.routing.haproxy_runtime import RuntimeApi, parse_map, parse_table
from session_manager.routing.router import BuiltinRouter, RouteTarget
from session_manager.settings import ManagerSettings

SID = "0123456789abcdef0123456789abcdef"


def _params(**overrides: object) -> HaproxyParams:
    values: dict[str, object] = {
        "public_host": "127.0.0.1",
        "public_port": 8080,
        "manager_host": "127.0.0.1",
        "manager_port": 8081,
        "api_key": "the-key",
        "max_body_bytes": 1000,
        "proxy_timeout": 2.5,
        "retry_after": 5,
        "max_sessions": 100,
        **overrides,
    }
    return HaproxyParams(**values)  # type: ignore[arg-type]


def test_the_config_holds_the_keys_digest_and_never_the_key(tmp_path: Path) -> None:
    text = render_config(_params(), HaproxyLayout(tmp_path))
    assert "the-key" not in text
    assert hashlib.sha256(b"the-key").hexdigest().upper() in text
    assert "bind 127.0.0.1:8080" in text and "server manager 127.0.0.1:8081" in text
    assert "gt 1000" in text and "timeout server 2500" in text


def test_without_a_key_every_caller_is_the_operator(tmp_path: Path) -> None:
    assert "acl key_ok always_true" in render_config(_params(api_key=None), HaproxyLayout(tmp_path))


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy absent")
@pytest.mark.parametrize("api_key", ["the-key", None])
def test_haproxy_accepts_the_config(tmp_path: Path, api_key: str | None) -> None:
    layout = HaproxyLayout(tmp_path)
    params = _params(api_key=api_key)
    for path, content in error_files(params, layout).items():
        path.write_bytes(content)
    layout.routes.write_text(f"{SID} 127.0.0.1|9|token\n")
    layout.config.write_text(render_config(params, layout))
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(layout.config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ALERT" not in checked.stdout + checked.stderr


def test_error_files_are_the_platforms_json_errors() -> None:
    raw = error_file(503, "Service Unavailable", "KATO_X", "why", retry_after=7)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 7" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert body == b'{"error":{"code":"KATO_X","message":"why","details":{}},"status":503}'


def test_show_map_and_show_table_answers_are_parsed() -> None:
    shown = f"0x55d0c0a1b2c0 {SID} 127.0.0.1|32768|tok\n\n"
    assert parse_map(shown) == {SID: "127.0.0.1|32768|tok"}
    table = (
        "# table: kato_activity, type: string, size:1024, used:1\n"
        f"0x55d0c0a1b2c0: key={SID} use=1 exp=86399000 gpt0=1796687030 conn_cur=1 "
        "http_req_cnt=6\n\n"
    )
    assert parse_table(table) == {
        SID: {"use": "1", "exp": "86399000", "gpt0": "1796687030", "conn_cur": "1",
              "http_req_cnt": "6"}
    }


def test_a_route_value_is_built_from_the_parsed_url_only() -> None:
    assert map_value(RouteTarget(SID, "http://127.0.0.1:32768", "a-b_C9")) == (
        "127.0.0.1|32768|a-b_C9"
    )
    for url, token in [
        ("http://kato-proc:8000", "t"),  # a Swarm service name: the manager serves it
        ("https://127.0.0.1:1", "t"),
        ("http://127.0.0.1", "t"),
        ("http://127.0.0.1:1", "t t"),
        ("http://127.0.0.1:1", "t;show info"),
        ("http://127.0.0.1:1", ""),
    ]:
        with pytest.raises(RouteNotRoutable):
            map_value(RouteTarget(SID, url, token))


async def test_the_runtime_api_sends_one_checked_command(tmp_path: Path) -> None:
    api = RuntimeApi(tmp_path / "none.sock")
    with pytest.raises(ValueError):
        await api.command("show info\nshutdown frontend kato")
    with pytest.raises(ValueError):
        await api.set_entry(tmp_path / "m", "not-a-session", "v")
    with pytest.raises(ValueError):
        await api.set_entry(tmp_path / "m", SID, "v w")
    assert await api.alive() is False  # no socket: not alive, no exception


def test_settings_select_the_router_and_move_the_managers_port(tmp_path: Path) -> None:
    builtin = ManagerSettings(state_dir=tmp_path)
    assert builtin.api_address == (builtin.host, builtin.port)
    assert isinstance(make_router(builtin), BuiltinRouter)
    routed = ManagerSettings(state_dir=tmp_path, router="haproxy", host="0.0.0.0", port=9000)
    assert routed.api_address == ("127.0.0.1", 9001)
    router = make_router(routed)
    assert isinstance(router, HaproxyRouter)
    assert router.params.public_host == "0.0.0.0" and router.params.manager_port == 9001
    explicit = ManagerSettings(state_dir=tmp_path, router="haproxy", port=9000, api_port=7000)
    assert explicit.api_address == ("127.0.0.1", 7000)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"port": 0}, "fixed KATO_PORT"),
        ({"port": 9000, "api_port": 9000}, "must differ"),
        ({"port": 65535}, "at most 65535"),
        ({"port": 9000, "rate_limit_session": 5}, "KATO_RATE_LIMIT_SESSION"),
        ({"port": 9000, "shed_inflight": 10}, "KATO_SHED_INFLIGHT"),
    ],
)
def test_settings_refuse_a_router_they_cannot_keep(
    tmp_path: Path, overrides: dict[str, object], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        ManagerSettings(state_dir=tmp_path, router="haproxy", **overrides)  # type: ignore[arg-type]


def test_a_state_dir_too_long_for_the_admin_socket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long"):
        HaproxyRouter(state_dir=tmp_path / ("d" * 120), params=_params())
