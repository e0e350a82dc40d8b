"""The dashboard in a real chromium against a real manager with real containers: log in, see a
session appear, hibernate it from the page (keyboard), delete it after confirming, lifecycle
events arrive live, a wrong key refused, a down engine explained, and no console error anywhere.

`KATO_DASHBOARD_SCREENSHOT=docs/dashboard.png` also saves the page as the README shows it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from session_manager.testing import ManagerProcess

pytestmark = pytest.mark.docker

KEY = "dashboard-test-key"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Spawning, snapshotting and removing a container take seconds on a busy 2-core machine.
SLOW = 60_000


def _open(browser: Any, manager: ManagerProcess) -> tuple[Page, list[str]]:
    """A fresh context (no cookies) on the dashboard, recording every console error."""
    page: Page = browser.new_context(viewport=DESKTOP).new_page()
    errors = _watch(page)
    page.goto(f"{manager.url}/dashboard")
    return page, errors


def _watch(page: Page) -> list[str]:
    """Every console error and uncaught exception of `page`, as they happen."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _log_in(page: Page, key: str) -> None:
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()


def _api(manager: ManagerProcess) -> httpx.Client:
    client = manager.client()
    client.headers["Authorization"] = f"Bearer {KEY}"
    return client


def test_wrong_key_is_refused(browser: Any, start_manager: Callable[..., ManagerProcess]) -> None:
    manager = start_manager(KATO_API_KEY=KEY)
    page, errors = _open(browser, manager)
    _log_in(page, "not-the-key")
    expect(page.get_by_role("alert").filter(has_text="Wrong API key")).to_be_visible()
    expect(page.locator("#board")).to_be_hidden()
    assert page.context.cookies() == []
    # The refused login is the one console error, by design; it also shows that the other
    # tests' `errors == []` would see an error if there were one.
    assert len(errors) == 1 and "401" in errors[0]
    page.context.close()


def test_operator_flow_in_a_real_browser(
    browser: Any, start_manager: Callable[..., ManagerProcess]
) -> None:
    manager = start_manager(KATO_API_KEY=KEY)
    page, errors = _open(browser, manager)
    _log_in(page, KEY)
    expect(page.locator("#board")).to_be_visible()
    assert KEY not in page.url
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert KEY not in cookie["value"]

    api = _api(manager)
    alice = api.post("/session/create", json={"user_id": "alice"}).json()
    bob = api.post("/session/create", json={"user_id": "bob"}).json()
    for _ in range(20):  # some traffic through the proxy for the charts
        api.post(f"/session/{bob['session_id']}/observe", json={"strings": ["hello"]})
    row = page.locator(f'tr[data-session-id="{alice["session_id"]}"]')
    expect(row).to_contain_text("alice", timeout=SLOW)
    expect(row.locator(".status")).to_have_text("running")

    page.get_by_label("User").fill("bo")
    expect(row).to_have_count(0)
    page.get_by_label("User").fill("")
    page.get_by_label("Status").select_option("running")
    expect(row).to_have_count(1)
    page.get_by_label("Status").select_option("")

    row.get_by_role("button", name=re.compile("^Hibernate")).focus()
    page.keyboard.press("Enter")
    expect(row.locator(".status")).to_have_text("hibernated", timeout=SLOW)
    assert api.get(f"/session/{alice['session_id']}").json()["status"] == "hibernated"

    bob_row = page.locator(f'tr[data-session-id="{bob["session_id"]}"]')
    if screenshot := os.environ.get("KATO_DASHBOARD_SCREENSHOT"):
        # Wait for a chart point and bob's container memory (sampled every 5 and 10 s).
        expect(bob_row).to_contain_text("MiB", timeout=SLOW)
        page.screenshot(path=screenshot, full_page=True)
    # Keyboard focus survives the page's refreshes (rows are updated, not rebuilt).
    bob_hibernate = bob_row.get_by_role("button", name=re.compile("^Hibernate"))
    bob_hibernate.focus()
    age = bob_row.locator("td").nth(3)
    expect(age).not_to_have_text(age.inner_text(), timeout=SLOW)
    expect(bob_hibernate).to_be_focused()

    with page.context.expect_page() as opened:
        bob_row.get_by_role("link", name=re.compile("^Docs")).click()
    docs = opened.value
    docs_errors = _watch(docs)
    expect(docs.get_by_role("heading", name="POST /observe", exact=True)).to_be_visible(
        timeout=SLOW
    )
    assert docs_errors == []
    docs.close()

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size(DESKTOP)

    row.get_by_role("button", name=re.compile("^Delete")).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert api.get(f"/session/{alice['session_id']}").status_code == 200
    row.get_by_role("button", name=re.compile("^Delete")).click()
    dialog.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0, timeout=SLOW)
    assert api.get(f"/session/{alice['session_id']}").status_code == 404
    # Escape cancels, even after an earlier "Delete" answer of the same dialog.
    bob_row.get_by_role("button", name=re.compile("^Delete")).click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.evaluate("new Promise((done) => setTimeout(done))")  # the close handler has run
    assert bob["session_id"][:12] not in page.locator("#action-status").inner_text()
    expect(bob_row).to_have_count(1)
    assert api.get(f"/session/{bob['session_id']}").status_code == 200
    assert errors == []
    page.context.close()


def test_events_panel_is_live(browser: Any, start_manager: Callable[..., ManagerProcess]) -> None:
    """The panel's EventSource authenticates with the login cookie (it cannot send a header)
    and shows a session created through the API as it happens, with its memory soon after."""
    manager = start_manager(KATO_API_KEY=KEY)
    page, errors = _open(browser, manager)
    _log_in(page, KEY)
    state = page.locator("#events-state")
    expect(state).to_have_text("Live: events appear here as they happen.", timeout=SLOW)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    carol = _api(manager).post("/session/create", json={"user_id": "carol"}).json()
    short = carol["session_id"][:12]
    events = page.locator("#events li")
    expect(events.filter(has_text=f"session.created session {short} user carol")).to_have_count(
        1, timeout=SLOW
    )
    expect(events.filter(has_text=f"session.running session {short}")).to_have_count(1)
    row = page.locator(f'tr[data-session-id="{carol["session_id"]}"]')
    expect(row.locator("td").nth(5)).to_contain_text("MiB", timeout=SLOW)
    assert page.evaluate("window.sameDocument === true")
    expect(state).to_have_text("Live: events appear here as they happen.")
    assert errors == []
    page.context.close()


def test_page_explains_a_down_engine(
    browser: Any, start_manager: Callable[..., ManagerProcess]
) -> None:
    manager = start_manager(KATO_API_KEY=KEY, DOCKER_HOST="unix:///nonexistent/docker.sock")
    page, errors = _open(browser, manager)
    _log_in(page, KEY)
    expect(page.locator("#problem")).to_contain_text("container engine (Docker) does not answer")
    expect(page.locator("#engine-badge")).to_have_text("Engine down")
    assert errors == []
    page.context.close()
