"""The login cookie's rules, without a server."""

from __future__ import annotations

from session_manager.dashboard.cookie import cookie_value, is_open_path, split_cookie


def test_split_cookie_takes_only_the_dashboard_cookie() -> None:
    value, rest = split_cookie(b"a=1; kato_dashboard=abc; b=2")
    assert value == b"abc"
    assert rest == b"a=1; b=2"
    assert split_cookie(b"a=1") == (None, b"a=1")
    assert split_cookie(b"kato_dashboard=x") == (b"x", b"")


def test_cookie_value_is_not_the_key_and_follows_it() -> None:
    assert cookie_value("k3y") != "k3y"
    assert cookie_value("k3y") == cookie_value("k3y")
    assert cookie_value("k3y") != cookie_value("k3y2")


def test_open_paths_are_the_page_its_assets_and_the_login() -> None:
    assert is_open_path("/dashboard")
    assert is_open_path("/dashboard/static/dashboard.js")
    assert is_open_path("/dashboard/login")
    assert is_open_path("/dashboard/docs")
    assert not is_open_path("/dashboard/api/overview")
    assert not is_open_path("/sessions")
    assert not is_open_path("/dashboardx")
