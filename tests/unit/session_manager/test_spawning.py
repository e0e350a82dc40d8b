"""`session_manager.spawning` and the refusals of `admission`: a 503 says which queue is full,
and its Retry-After comes from the start queue when starts are what hold the room."""

from __future__ import annotations

import pytest

from session_manager.admission import Admission
from session_manager.errors import CapacityError, SpawnBusyError
from session_manager.metrics import ManagerMetrics
from session_manager.settings import ManagerSettings
from session_manager.spawning import SpawnQueue


def _queue(concurrency: int = 2, queue: int = 8, wait: float = 0) -> SpawnQueue:
    return SpawnQueue(concurrency=concurrency, queue=queue, wait=wait)


def test_retry_after_shares_the_starts_ahead_among_the_slots() -> None:
    spawns = _queue(concurrency=2)
    spawns.measured(3.0)  # mean 1.0 -> 1.4
    spawns.starting, spawns.waiting = 2, 3  # 6 ahead with the new one: 3 rounds of 1.4 s
    assert spawns.retry_after() == 5
    spawns.starting, spawns.waiting = 0, 0
    assert spawns.retry_after() == 2  # one round
    spawns.waiting = 10_000
    assert spawns.retry_after() == 60  # bounded


async def test_a_full_start_queue_is_spawn_busy_at_once() -> None:
    spawns = _queue(concurrency=1, queue=0)
    async with spawns.slot():
        with pytest.raises(SpawnBusyError) as refused:
            async with spawns.slot():
                pass
    assert refused.value.code == "KATO_SPAWN_BUSY" and refused.value.status == 503
    assert refused.value.details == {"max_concurrent_spawns": 1, "starting": 1, "waiting": 0}
    assert refused.value.headers == {"Retry-After": "2"}
    assert not spawns.busy  # everything given back


async def test_the_pool_takes_only_an_idle_slot() -> None:
    spawns = _queue(concurrency=1)
    assert await spawns.idle_slot()
    assert spawns.busy and not await spawns.idle_slot()
    spawns.release()
    assert not spawns.busy


def _admission(routed: int, spawns: SpawnQueue) -> Admission:
    async def nothing_evictable() -> bool:
        return False

    settings = ManagerSettings(max_sessions=2, spawn_wait=0, retry_after=7)
    return Admission(
        settings, ManagerMetrics(), routed=lambda: routed, evict=nothing_evictable, spawns=spawns
    )


async def test_slots_held_by_starts_under_way_are_spawn_busy_not_no_room() -> None:
    spawns = _queue(concurrency=1)
    admission = _admission(routed=1, spawns=spawns)
    async with admission.slot():  # a create still starting holds the last slot
        spawns.starting = 1
        with pytest.raises(SpawnBusyError) as refused:
            async with admission.slot():
                pass
    assert "held by creates and wakes still starting" in refused.value.message
    assert refused.value.details["max_sessions"] == 2
    assert refused.value.headers == {"Retry-After": "2"}


async def test_running_sessions_in_every_slot_are_capacity() -> None:
    admission = _admission(routed=2, spawns=_queue())
    with pytest.raises(CapacityError) as refused:
        async with admission.slot():
            pass
    assert type(refused.value) is CapacityError and refused.value.code == "KATO_CAPACITY"
    assert refused.value.message == "all session slots are in use"
    assert refused.value.headers == {"Retry-After": "7"}
