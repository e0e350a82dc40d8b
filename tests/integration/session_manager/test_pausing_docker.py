"""The paused tier on the real engine: `docker pause` after `KATO_PAUSE_AFTER`, the next
request unpauses and is served, a restarted manager resumes a container paused before."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from session_manager.testing import ManagerProcess
from tests.integration.session_manager.docker_support import (
    containers_of,
    create_session,
    session_client,
    wait_until,
)

pytestmark = pytest.mark.docker

PAUSING = {"KATO_PAUSE_AFTER": "1", "KATO_IDLE_TIMEOUT": "600", "KATO_REAP_INTERVAL": "0.5"}


def _status(labels: dict[str, str], processor_id: str) -> str:
    (container,) = containers_of(labels, processor_id)
    return str(container.status)


def test_an_idle_session_is_paused_and_served_again_across_a_restart(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager(**PAUSING)
    with manager.client() as http:
        session = create_session(http)
    sid, pid = session["session_id"], session["processor_id"]
    with session_client(manager, sid) as proxied:
        proxied.post("/observe", json={"strings": ["frozen"]}).raise_for_status()
    wait_until("the idle session is paused", lambda: _status(test_labels, pid) == "paused")
    with session_client(manager, sid) as proxied:
        assert proxied.get("/stm").json()["stm"] == [["frozen"]]  # unpaused, then served
    assert _status(test_labels, pid) in ("running", "paused")  # the reaper may pause it again

    wait_until("paused again", lambda: _status(test_labels, pid) == "paused")
    manager.stop()
    restarted = start_manager(**{**PAUSING, "KATO_PAUSE_AFTER": "0"})
    assert _status(test_labels, pid) == "paused"  # start-up keeps a paused container
    with session_client(restarted, sid) as proxied:
        assert proxied.get("/stm").json()["stm"] == [["frozen"]]
    assert _status(test_labels, pid) == "running"
    with restarted.client() as http:
        assert http.delete(f"/session/{sid}").status_code == 204
    assert containers_of(test_labels, pid) == []
