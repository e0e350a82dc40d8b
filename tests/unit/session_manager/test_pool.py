"""The warm pool on a FakeBackend: claims, races with other claims and with refill and
reconcile, refused genes, the cold path, and a crash between a claim and its answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from container_manager import FakeBackend, FakeContainer, KatoContainerManager
from kato.web.wait import until, wait_until
from session_manager.reconcile import reconcile
from session_manager.registry import SessionRecord, SessionRegistry
from session_manager.sessions import SessionService
from tests.unit.session_manager.fake_processor import GENE_LIMIT, FakeProcessor
from tests.unit.session_manager.support import Clock, events_of, service_of


async def _filled(service: SessionService, size: int) -> set[str]:
    """The pool's ready ids once it holds `size` (bounded: a pool that never fills fails)."""
    pool = service.pool
    await until(f"the pool holds {size}", lambda: len(pool.ready) == size and not pool.launching)
    return set(pool.ready)


def _pooled(client: TestClient, size: int) -> set[str]:
    return client.portal.call(_filled, service_of(client), size)  # type: ignore[union-attr]


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/session/create", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _metric(client: TestClient, line: str) -> bool:
    return line in client.get("/metrics").text.splitlines()


def test_a_create_claims_a_pooled_processor_with_its_genes_and_the_pool_refills(
    make_client: Callable[..., TestClient], processor: FakeProcessor, fake: FakeBackend
) -> None:
    client = make_client(pool_size=2)
    pooled = _pooled(client, 2)
    session = _create(client, genes={"max_pattern_length": 3, "max_predictions": 7})
    assert session["processor_id"] in pooled and session["status"] == "running"
    token = f"Bearer {session['token']}"
    assert processor.state[token]["genes"] == {"max_pattern_length": 3, "max_predictions": 7}
    observed = client.post(f"/session/{session['session_id']}/observe", json={"strings": ["a"]})
    assert observed.status_code == 200
    refilled = _pooled(client, 2)
    assert session["processor_id"] not in refilled and len(refilled & pooled) == 1
    assert _metric(client, 'kato_pool_claims_total{result="hit"} 1.0')
    types = [e["type"] for e in events_of(client)]
    assert types == ["session.created", "session.running"]


def test_two_creates_racing_for_the_last_pooled_processor_get_different_ones(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(pool_size=1)
    (last,) = _pooled(client, 1)
    service = service_of(client)

    async def race() -> list[Any]:
        return list(await asyncio.gather(*(service.create(None, {}, None) for _ in range(2))))

    records = client.portal.call(race)  # type: ignore[union-attr]
    ids = [r.processor_id for r in records]
    assert len(set(ids)) == 2 and ids.count(last) == 1
    assert service.registry.processor_ids() == set(ids)
    assert last not in _pooled(client, 1)


def test_a_claim_in_progress_is_never_readopted_by_reconcile_or_refill(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(pool_size=1)
    _pooled(client, 1)
    service = service_of(client)

    async def claim_with_a_reconcile_in_between() -> tuple[str, set[str], set[str]]:
        info = service.pool.take()
        assert info is not None
        await reconcile(service)  # the claim is not recorded yet: held, not free
        during = set(service.pool.ready)
        now = time.time()
        record = SessionRecord("a" * 32, info.processor_id, None, "running", now, now)
        await service.registry.call(service.registry.put, record)
        service.pool.settled(info)
        await reconcile(service)  # recorded: the session's
        return info.processor_id, during, set(await _filled(service, 1))

    claimed, during, after = client.portal.call(claim_with_a_reconcile_in_between)  # type: ignore[union-attr]
    assert claimed not in during and claimed not in after and len(after) == 1


def test_refill_waits_while_a_claim_is_in_flight(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(pool_size=2)
    _pooled(client, 2)
    service = service_of(client)

    async def claim_and_hold() -> tuple[int, int]:
        info = service.pool.take()
        assert info is not None
        service.pool.kick()
        await asyncio.sleep(0.3)  # many refill rounds: none starts while the claim is held
        held = service.pool.starting + len(service.pool.ready)
        service.pool.settled(info, back=True)
        return held, len(await _filled(service, 2))

    held, after = client.portal.call(claim_and_hold)  # type: ignore[union-attr]
    assert (held, after) == (1, 2)


def _paths(processor: FakeProcessor) -> list[str]:
    return [request["raw_path"] for request in processor.requests]


def test_a_claim_reads_health_beside_its_commit_but_sends_genes_only_after_it(
    make_client: Callable[..., TestClient], processor: FakeProcessor
) -> None:
    """Without genes the pooled processor's /health is asked while the claim is being
    committed; genes change the processor, so they wait until the claim is on disk."""
    client = make_client(pool_size=2)
    _pooled(client, 2)
    service = service_of(client)

    def create_while_the_registry_is_held(genes: dict[str, Any], path: str) -> tuple[bool, str]:
        before = _paths(processor).count(path)
        asked = lambda: _paths(processor).count(path) > before  # noqa: E731
        with service.registry._lock:  # the claim's commit cannot finish
            pending = client.portal.start_task_soon(service.create, None, genes, None)  # type: ignore[union-attr]
            if genes:  # must not come while held: a slow machine can only hide a regression
                time.sleep(0.5)
            else:
                wait_until(f"{path} asked while the claim is committed", asked)
            asked_while_held = asked()
        return asked_while_held, pending.result(10).status

    assert create_while_the_registry_is_held({}, "/health") == (True, "running")
    assert create_while_the_registry_is_held({"max_predictions": 9}, "/genes/update") == (
        False,
        "running",
    )


def test_refused_genes_are_a_422_and_the_processor_goes_back_to_the_pool(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(pool_size=1)
    (pooled,) = _pooled(client, 1)
    too_long = {"max_pattern_length": GENE_LIMIT + 1}
    response = client.post("/session/create", json={"genes": too_long})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert client.get("/sessions").json()["sessions"] == []
    assert _pooled(client, 1) == {pooled}


def _started_cold(client: TestClient, fake: FakeBackend, genes: dict[str, Any]) -> FakeContainer:
    """The container a create with `genes` started, asserting the pool was left as it was."""
    (pooled,) = _pooled(client, 1)
    session = _create(client, genes=genes)
    assert session["processor_id"] != pooled
    container = fake.container_for(session["processor_id"])
    assert container is not None
    assert _pooled(client, 1) == {pooled}
    return container


def test_persistence_takes_the_cold_path(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    """The emotive window is the start-up value only (spec QUIRK-7): a pooled processor told
    `persistence` by /genes/update would keep its window of 5."""
    container = _started_cold(make_client(pool_size=1), fake, {"persistence": 7})
    assert container.spec.env["PERSISTENCE"] == "7"


def test_genes_fixed_at_start_take_the_cold_path(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    genes = {"cpu_limit": 0.5, "processor_name": "cold"}
    container = _started_cold(make_client(pool_size=1), fake, genes)
    assert container.spec.limits.cpu == 0.5


def test_a_pooled_processor_that_stopped_is_replaced(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(pool_size=1)
    (dead,) = _pooled(client, 1)
    container = fake.container_for(dead)
    assert container is not None
    fake.stop(container.container_id)
    client.portal.call(reconcile, service_of(client))  # type: ignore[union-attr]
    (fresh,) = _pooled(client, 1)
    assert fresh != dead and fake.container_for(dead) is None


def test_a_crash_between_claim_and_answer_loses_nothing_and_claims_nothing_twice(
    make_client: Callable[..., TestClient],
    fake: FakeBackend,
    containers: KatoContainerManager,
    tmp_path: Any,
) -> None:
    """Two claims were recorded when the manager died: one still `starting` (never answered:
    a ghost, its container goes), one `running` (answered or not, the session exists: it is
    adopted). The third pooled processor, unclaimed, returns to the pool."""
    first = make_client(pool_size=3)
    ghost_pid, running_pid, free_pid = sorted(_pooled(first, 3))
    first.__exit__(None, None, None)  # the pool keeps its containers when it stops
    registry = SessionRegistry(tmp_path / "state" / "sessions.sqlite3")
    now = time.time()
    running = containers.get_processor(running_pid)
    assert running is not None
    registry.put(SessionRecord("b" * 32, ghost_pid, None, "starting", now, now))
    registry.put(
        SessionRecord(
            "c" * 32,
            running_pid,
            None,
            "running",
            now,
            now,
            internal_url=running.internal_url,
            token=running.token,
        )
    )
    registry.close()

    second = make_client(pool_size=3)
    pool = _pooled(second, 3)
    assert free_pid in pool and ghost_pid not in pool and running_pid not in pool
    assert fake.container_for(ghost_pid) is None
    assert second.get(f"/session/{'b' * 32}").status_code == 404
    assert second.post(f"/session/{'c' * 32}/observe", json={"strings": ["x"]}).status_code == 200
    assert {s["processor_id"] for s in second.get("/sessions").json()["sessions"]} == {running_pid}


# -- making room: eviction and the wait for room ----------------------------------------------
def _observe(client: TestClient, session_id: str, symbol: str) -> None:
    answer = client.post(f"/session/{session_id}/observe", json={"strings": [symbol]})
    assert answer.status_code == 200, answer.text


def test_at_the_cap_a_create_evicts_the_least_recently_used_idle_session(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_sessions=2, spawn_wait=0)
    older, newer = _create(client)["session_id"], _create(client)["session_id"]
    _observe(client, older, "kept")
    service = service_of(client)
    service.clock = Clock(time.time() + 61)  # both idle past KATO_EVICT_MIN_IDLE
    service.touch(newer)  # newer just used: older is the least recently used
    service.clock = Clock(time.time() + 122)
    _create(client)
    assert client.get(f"/session/{older}").json()["status"] == "hibernated"
    assert client.get(f"/session/{newer}").json()["status"] == "running"
    assert [e["type"] for e in events_of(client)][-3:-2] == ["session.evicted"]
    assert _metric(client, "kato_evictions_total 1.0")
    # The evicted session wakes with its STM on its next request (evicting the next one).
    assert client.get(f"/session/{older}/stm").json() == {"stm": [["kept"]]}


def test_with_nothing_evictable_a_create_waits_then_gets_a_503(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_sessions=1, spawn_wait=0.2)
    _create(client)  # just used: not evictable for KATO_EVICT_MIN_IDLE
    refused = client.post("/session/create", json={})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.json()["error"]["code"] == "KATO_CAPACITY"
    assert _metric(client, 'kato_admission_wait_seconds_count{outcome="refused"} 1.0')


def test_a_waiting_create_gets_the_room_a_delete_frees(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_sessions=1, spawn_wait=30)
    first = _create(client)["session_id"]
    service = service_of(client)

    async def create_while_waiting() -> str:
        waiting = asyncio.ensure_future(service.create(None, {}, None))
        await until("the create waits for room", lambda: service.admission.waiting)
        await service.delete(first)
        return (await waiting).session_id

    second = client.portal.call(create_while_waiting)  # type: ignore[union-attr]
    assert [s["session_id"] for s in client.get("/sessions").json()["sessions"]] == [second]


def test_a_request_racing_to_the_evicted_session_is_served(
    make_client: Callable[..., TestClient],
) -> None:
    """A create evicts the idle LRU session while a request for it arrives: the request either
    holds it (in flight: the next one is evicted) or wakes it; it is never lost."""
    client = make_client(max_sessions=2, spawn_wait=10)
    victim = _create(client)["session_id"]
    _observe(client, victim, "stm-kept")
    other = _create(client)["session_id"]  # used later: the victim is the LRU one
    service = service_of(client)
    service.clock = Clock(time.time() + 61)

    async def race() -> tuple[str, Any]:
        async def request() -> Any:
            route = await service.acquire(victim)
            try:
                url = f"{route.internal_url}/stm"
                headers = {"Authorization": f"Bearer {route.token}"}
                async with service.client.get(url, headers=headers) as answer:
                    return await answer.json()
            finally:
                service.release(victim, route)

        created, served = await asyncio.gather(service.create(None, {}, None), request())
        return created.session_id, served

    created, served = client.portal.call(race)  # type: ignore[union-attr]
    assert served == {"stm": [["stm-kept"]]}
    statuses = {s["session_id"]: s["status"] for s in client.get("/sessions").json()["sessions"]}
    assert statuses[created] == "running" and statuses[victim] == "running"
    assert statuses[other] == "hibernated"


def test_sessions_and_the_pool_share_the_budget_of_max_sessions(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    """Two slots, a pool of two: a claim leaves one pooled (not refilled past the budget), and
    a cold start takes the last pooled processor's place."""
    client = make_client(max_sessions=2, pool_size=2, spawn_wait=0)
    _pooled(client, 2)
    claimed = _create(client)
    (left,) = _pooled(client, 1)
    cold = _create(client, genes={"cpu_limit": 0.5})
    running = {c.spec.labels["kato.processor_id"] for c in fake.containers.values()}
    assert running == {claimed["processor_id"], cold["processor_id"]} and left not in running
    assert _pooled(client, 0) == set()
