"""The warm pool and eviction on the real engine with real manager processes: a `kill -9`
keeps the pool (unclaimed containers back in it, claimed ones adopted by their sessions,
nothing claimed twice), and a session evicted to make room keeps its STM."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from session_manager.testing import ManagerProcess
from tests.integration.session_manager.docker_support import (
    create_session,
    pool_ready,
    pooled,
    session_client,
    wait_until,
)

pytestmark = pytest.mark.docker


def test_the_pool_survives_a_kill9_and_nothing_is_claimed_twice(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    settings = {"KATO_POOL_SIZE": "2"}
    manager = start_manager(**settings)
    wait_until("the pool is full", lambda: pool_ready(manager, 2))
    with manager.client() as http:
        session = create_session(http, genes={"recall_threshold": 0.3})
    assert session["processor_id"] in pooled(test_labels)
    with session_client(manager, session["session_id"]) as proxied:
        proxied.post("/observe", json={"strings": ["warm"]}).raise_for_status()
        assert proxied.get("/gene/recall_threshold").json()["gene_value"] == 0.3
    wait_until("the pool is full", lambda: pool_ready(manager, 2))
    before = pooled(test_labels)
    free = set(before) - {session["processor_id"]}
    assert len(free) == 2
    manager.kill()

    restarted = start_manager(**settings)
    wait_until("the adopted pool is full", lambda: pool_ready(restarted, 2))
    assert pooled(test_labels) == before  # unclaimed adopted back, none removed or added
    with session_client(restarted, session["session_id"]) as proxied:
        assert proxied.get("/stm").json()["stm"] == [["warm"]]  # the claimed one: adopted
    with restarted.client() as http:
        second = create_session(http)
    assert second["processor_id"] in free  # claimed from the adopted pool, not twice
    with session_client(restarted, second["session_id"]) as proxied:
        assert proxied.get("/stm").json()["stm"] == []


def test_a_session_evicted_to_make_room_keeps_its_stm(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager(KATO_MAX_SESSIONS="1", KATO_EVICT_MIN_IDLE="0")
    with manager.client() as http:
        first = create_session(http)
        with session_client(manager, first["session_id"]) as proxied:
            proxied.post("/observe", json={"strings": ["kept"]}).raise_for_status()
        second = create_session(http)  # at the cap: the first is evicted, not refused
        assert http.get(f"/session/{first['session_id']}").json()["status"] == "hibernated"
        with session_client(manager, first["session_id"]) as proxied:
            assert proxied.get("/stm").json()["stm"] == [["kept"]]  # woken, evicting second
        assert http.get(f"/session/{second['session_id']}").json()["status"] == "hibernated"
