"""Failure modes on the real engine with real manager processes: two managers on one engine,
`docker pause` under reconcile, and `kill -9` during concurrent creates."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import docker
import httpx
import pytest

from container_manager.testing import labelled_containers
from kato.web.wait import wait_until
from session_manager.registry import SessionRegistry
from session_manager.testing import ManagerProcess

pytestmark = pytest.mark.docker

_FAST_RECONCILE = {"KATO_RECONCILE_INTERVAL": "0.5"}
_PROBE = "kato.test.probe"


def _create(manager: ManagerProcess) -> dict[str, Any]:
    with manager.client() as http:
        answer = http.post("/session/create", json={})
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _proxied(manager: ManagerProcess, session_id: str) -> httpx.Client:
    return httpx.Client(base_url=f"{manager.url}/session/{session_id}", timeout=120)


def _learn(manager: ManagerProcess, session_id: str) -> str:
    with _proxied(manager, session_id) as session:
        for word in (f"{session_id}-a", f"{session_id}-b"):
            session.post("/observe", json={"strings": [word]}).raise_for_status()
        learned = session.post("/learn")
        learned.raise_for_status()
    name: str = learned.json()["pattern_name"]
    assert name.startswith("PTRN|")
    return name


def _has_pattern(manager: ManagerProcess, session_id: str, name: str) -> bool:
    with _proxied(manager, session_id) as session:
        return session.get(f"/pattern/{name.replace('|', '%7C')}").status_code == 200


def _probe_orphan(manager: ManagerProcess, image: str, labels: dict[str, str]) -> str:
    """A (never started) container of `manager`'s deployment that no record of it claims: its
    removal proves that a reconcile pass ran, without timing anything. Its anonymous `/data`
    volume carries the probe's own label, so the test finds it whether or not reconcile has
    already removed the container (inspecting the container after creating it raced the
    loop). Returns the probe's label value."""
    deployment = (manager.state_dir / "deployment").read_text().strip()
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    probe_labels = {
        **labels,
        "kato.managed": "true",
        "kato.deployment": deployment,
        "kato.processor_id": probe,
        "kato.session_id": "probe",
    }
    volume_labels = {**labels, _PROBE: probe}
    data = {"Type": "volume", "Target": "/data", "VolumeOptions": {"Labels": volume_labels}}
    engine = docker.from_env()
    try:
        engine.api.create_container(
            image, labels=probe_labels, host_config=engine.api.create_host_config(mounts=[data])
        )
    finally:
        engine.close()
    return probe


def _probe_gone(probe: str) -> bool:
    engine = docker.from_env()
    try:
        # Summaries only: `containers.list` inspects each one and fails on a container that
        # reconcile removes between the listing and the inspection.
        filters = {"label": f"kato.processor_id={probe}"}
        return not engine.api.containers(all=True, filters=filters)
    finally:
        engine.close()


def _probe_volumes(probe: str) -> list[str]:
    engine = docker.from_env()
    try:
        found = engine.api.volumes(filters={"label": f"{_PROBE}={probe}"})["Volumes"] or []
        return [volume["Name"] for volume in found]
    finally:
        engine.close()


def _passes_reconcile(managers: list[ManagerProcess], image: str, labels: dict[str, str]) -> None:
    """Wait until every manager has run at least one full reconcile pass from now; a container
    it removes takes its anonymous volumes with it."""
    probes = [_probe_orphan(manager, image, labels) for manager in managers]
    for probe in probes:
        wait_until("reconcile removes its probe orphan", lambda probe=probe: _probe_gone(probe))
        assert _probe_volumes(probe) == []


def test_two_managers_with_default_settings_keep_every_session(
    start_manager: Callable[..., ManagerProcess],
    processor_image: str,
    test_labels: dict[str, str],
) -> None:
    one, two = start_manager("one", **_FAST_RECONCILE), start_manager("two", **_FAST_RECONCILE)
    learned: list[tuple[ManagerProcess, str, str]] = []
    for manager in (one, two):
        for _ in range(2):
            session_id = _create(manager)["session_id"]
            learned.append((manager, session_id, _learn(manager, session_id)))
    for _ in range(2):  # twice: a pass that started before the probes is not enough
        _passes_reconcile([one, two], processor_image, test_labels)
    for manager, session_id, pattern in learned:
        assert _has_pattern(manager, session_id, pattern), session_id
        with manager.client() as http:
            assert http.get(f"/session/{session_id}").json()["status"] == "running"


def test_a_paused_container_is_left_alone_by_reconcile_and_resumed_by_a_request(
    start_manager: Callable[..., ManagerProcess],
    processor_image: str,
    test_labels: dict[str, str],
) -> None:
    manager = start_manager(**_FAST_RECONCILE)
    session = _create(manager)
    with _proxied(manager, session["session_id"]) as proxied:
        proxied.post("/observe", json={"strings": ["kept-in-stm"]}).raise_for_status()
    engine = docker.from_env()
    (container,) = engine.containers.list(
        filters={"label": f"kato.processor_id={session['processor_id']}"}
    )
    container.pause()
    try:
        _passes_reconcile([manager], processor_image, test_labels)
        container.reload()
        assert container.status == "paused"  # reconcile kept it: its memory is in there
        manager.stop()
        manager = start_manager(**_FAST_RECONCILE)  # no route: a request wakes it
        container.reload()
        assert container.status == "paused"  # start-up kept it too
        with _proxied(manager, session["session_id"]) as proxied:
            # Unpaused (never replaced), then served with the STM it held.
            assert proxied.get("/stm").json()["stm"] == [["kept-in-stm"]]
        container.reload()
        assert container.status == "running"
        (same,) = engine.containers.list(
            filters={"label": f"kato.processor_id={session['processor_id']}"}
        )
        assert same.id == container.id
    finally:
        container.reload()
        if container.status == "paused":
            container.unpause()


def test_kill9_during_concurrent_creates_leaves_no_ghosts_orphans_or_lost_sessions(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    settings = {"KATO_SPAWN_QUEUE": "20", "KATO_MAX_SESSIONS": "50", **_FAST_RECONCILE}
    manager = start_manager(**settings)
    acknowledged: list[dict[str, Any]] = []
    lock = threading.Lock()

    def create() -> None:
        try:
            with httpx.Client(base_url=manager.url, timeout=120) as http:
                answer = http.post("/session/create", json={})
        except httpx.HTTPError:
            return  # the manager died under this request: never acknowledged
        if answer.status_code == 201:
            with lock:
                acknowledged.append(answer.json())

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    wait_until("three creates acknowledged", lambda: len(acknowledged) >= 3, timeout=90)
    manager.kill()
    for thread in threads:
        thread.join(120)
    # What the kill left: records still `starting` are ghosts (no client ever received them).
    registry = SessionRegistry(manager.state_dir / "sessions.sqlite3")
    left = {record.session_id: record for record in registry.all()}
    registry.close()
    ghosts = {sid: r.processor_id for sid, r in left.items() if r.status == "starting"}
    assert ghosts, "every create finished before the kill: nothing was tested"

    restarted = start_manager(**settings)
    with restarted.client() as http:
        sessions = {s["session_id"]: s for s in http.get("/sessions").json()["sessions"]}
    assert set(ghosts).isdisjoint(sessions)  # 0 ghosts
    assert set(left) - set(ghosts) == set(sessions)  # every finished create is kept
    assert {s["session_id"] for s in acknowledged} <= set(sessions)  # 0 acknowledged lost
    for session in acknowledged:
        with _proxied(restarted, session["session_id"]) as proxied:
            assert proxied.get("/stm").status_code == 200
    claimed = {s["processor_id"] for s in sessions.values()}
    engine = docker.from_env()
    filters = {"label": [f"{key}={value}" for key, value in test_labels.items()]}
    containers = labelled_containers(test_labels, engine)  # reconcile may be removing one
    volumes = engine.volumes.list(filters=filters)
    assert {c.labels["kato.processor_id"] for c in containers} <= claimed  # 0 orphans
    assert {v.attrs["Labels"]["kato.processor_id"] for v in volumes} <= claimed
