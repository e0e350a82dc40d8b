"""KatoContainerManager on the real Docker engine with the `kato:fastapi` image."""

from __future__ import annotations

import io
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx
import pytest
from docker.errors import NotFound

from container_manager import (
    ContainerSettings,
    EngineUnavailableError,
    KatoContainerManager,
    Launched,
    ProcessorInfo,
    ProcessorSpec,
    ProcessorStartError,
)
from container_manager.docker_backend import DockerBackend
from container_manager.testing import processor_http

pytestmark = pytest.mark.docker



def _learn(info: ProcessorInfo, *events: list[str]) -> str:
    with processor_http(info) as client:
        for strings in events:
            client.post("/observe", json={"strings": strings}).raise_for_status()
        response = client.post("/learn")
        response.raise_for_status()
        name = response.json()["pattern_name"]
    assert name.startswith("PTRN|")
    return str(name)


def _pattern_status(info: ProcessorInfo, name: str) -> int:
    with processor_http(info) as client:
        return client.get(f"/pattern/{name.replace('|', '%7C')}").status_code


def test_processors_are_isolated(manager: KatoContainerManager) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda s: manager.create_processor(session_id=s), ["a", "b"])
    assert first.port != second.port
    with processor_http(first) as client:
        client.post("/observe", json={"strings": ["hello"]}).raise_for_status()
        assert client.get("/stm").json()["stm"] == [["hello"]]
    with processor_http(second) as client:
        assert client.get("/stm").json()["stm"] == []
    name = _learn(first, ["a", "b"], ["c"])
    assert _pattern_status(first, name) == 200
    assert _pattern_status(second, name) == 404


def test_container_security_settings(manager: KatoContainerManager) -> None:
    info = manager.create_processor(config={"memory_limit": "256m", "cpu_limit": 0.5})
    attrs = docker.from_env().api.inspect_container(info.container_id)
    host = attrs["HostConfig"]
    assert attrs["Config"]["User"] == "10001"
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] is True
    assert host["Tmpfs"] == {"/tmp": f"rw,size={64 * 2**20}"}
    assert host["Memory"] == 256 * 2**20
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 256
    bindings = attrs["NetworkSettings"]["Ports"]["8000/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    assert {int(b["HostPort"]) for b in bindings} == {info.port}
    rotation = {"max-size": "10m", "max-file": "3"}
    assert host["LogConfig"] == {"Type": "json-file", "Config": rotation}
    assert attrs["Config"]["Healthcheck"] == {"Test": ["NONE"]}
    (mount,) = attrs["Mounts"]
    assert (mount["Type"], mount["Name"], mount["Destination"]) == (
        "volume",
        f"kato-data-{info.processor_id}",
        "/data",
    )


def test_data_volume_is_writable_by_the_service_user(manager: KatoContainerManager) -> None:
    info = manager.create_processor()
    container = docker.from_env().containers.get(info.container_id)
    probe = "import os; open('/data/.probe', 'w').write('ok'); print(os.getuid())"
    code, output = container.exec_run(["python", "-c", probe])
    assert (code, output.decode().strip()) == (0, "10001")
    code, _ = container.exec_run(["python", "-c", "open('/etc/probe', 'w')"])
    assert code != 0  # read-only root filesystem


def test_labels_and_adoption(manager: KatoContainerManager, settings: ContainerSettings) -> None:
    info = manager.create_processor(user_id="u1", session_id="s1")
    labels = docker.from_env().api.inspect_container(info.container_id)["Config"]["Labels"]
    assert labels["kato.managed"] == "true"
    assert labels["kato.processor_id"] == info.processor_id
    assert (labels["kato.session_id"], labels["kato.user_id"]) == ("s1", "u1")
    assert labels["kato.created_at"] == info.created_at
    assert labels["kato.test"] == settings.extra_labels["kato.test"]
    adopted = KatoContainerManager(settings).get_processor(info.processor_id)
    assert adopted is not None
    assert (adopted.token, adopted.port, adopted.internal_url) == (
        info.token,
        info.port,
        info.internal_url,
    )


def test_token_is_enforced(manager: KatoContainerManager) -> None:
    info = manager.create_processor()
    with httpx.Client(base_url=info.internal_url, timeout=10) as anonymous:
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/stm").status_code == 401
        wrong = anonymous.get("/stm", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401
    with processor_http(info) as client:
        assert client.get("/stm").status_code == 200


def test_remove_deletes_container_and_volume(manager: KatoContainerManager) -> None:
    info = manager.create_processor()
    manager.remove_processor(info.processor_id)
    engine = docker.from_env()
    with pytest.raises(NotFound):
        engine.containers.get(info.container_id)
    with pytest.raises(NotFound):
        engine.volumes.get(f"kato-data-{info.processor_id}")
    assert manager.get_processor(info.processor_id) is None


def test_hibernate_and_resume_keeps_learned_patterns(manager: KatoContainerManager) -> None:
    info = manager.create_processor(session_id="s1")
    name = _learn(info, ["x", "y"], ["z"])
    manager.remove_processor(info.processor_id, keep_data=True)
    with pytest.raises(NotFound):
        docker.from_env().containers.get(info.container_id)
    resumed = manager.create_processor(processor_id=info.processor_id)
    assert resumed.container_id != info.container_id
    assert resumed.session_id == "s1"
    assert _pattern_status(resumed, name) == 200


def test_stopped_container_is_replaced(manager: KatoContainerManager) -> None:
    info = manager.create_processor(config={"max_pattern_length": 3})
    docker.from_env().containers.get(info.container_id).stop(timeout=2)
    recreated = manager.create_processor(
        processor_id=info.processor_id, config={"max_pattern_length": 7}
    )
    assert recreated.container_id != info.container_id
    env = docker.from_env().api.inspect_container(recreated.container_id)["Config"]["Env"]
    assert "MAX_PATTERN_LENGTH=7" in env
    assert [p.container_id for p in manager.list_processors()] == [recreated.container_id]


def test_prune_removes_orphan_containers_and_keeps_their_volumes(
    manager: KatoContainerManager,
) -> None:
    kept = manager.create_processor(session_id="kept")
    orphan = manager.create_processor(session_id="lost")
    report = manager.prune(lambda: {kept.processor_id})  # the caller no longer claims `orphan`
    assert report.containers_removed == [orphan.container_id]
    assert report.volumes_kept == [f"kato-data-{orphan.processor_id}"]
    engine = docker.from_env()
    with pytest.raises(NotFound):
        engine.containers.get(orphan.container_id)
    engine.volumes.get(f"kato-data-{orphan.processor_id}")  # kept for KATO_ORPHAN_GRACE
    assert [p.processor_id for p in manager.list_processors()] == [kept.processor_id]


def test_two_deployments_on_one_engine_never_touch_each_other(
    settings: ContainerSettings, tmp_path: Path
) -> None:
    """Same settings but the state directory: each prunes (grace 0, twice) and keeps all."""
    one, two = (
        KatoContainerManager(
            settings.model_copy(update={"state_dir": tmp_path / name, "orphan_grace": 0})
        )
        for name in ("one", "two")
    )
    mine, theirs = one.create_processor(session_id="s1"), two.create_processor(session_id="s2")
    try:
        for _ in range(2):
            assert one.prune(lambda: {mine.processor_id}).containers_removed == []
            assert two.prune(lambda: {theirs.processor_id}).containers_removed == []
        assert [p.processor_id for p in one.list_processors()] == [mine.processor_id]
        assert [p.processor_id for p in two.list_processors()] == [theirs.processor_id]
        engine = docker.from_env()
        for info, owner in ((mine, one), (theirs, two)):
            labels = engine.api.inspect_container(info.container_id)["Config"]["Labels"]
            assert labels["kato.deployment"] == owner.deployment
            volume = engine.volumes.get(f"kato-data-{info.processor_id}")
            assert volume.attrs["Labels"]["kato.deployment"] == owner.deployment
    finally:
        one.remove_processor(mine.processor_id)
        two.remove_processor(theirs.processor_id)


def test_a_container_removed_during_start_up_gives_a_clean_error_and_leaves_nothing(
    settings: ContainerSettings,
) -> None:
    class RemovedUnderUs(DockerBackend):
        """`docker rm -f` from another client right after launch, while create waits."""

        def launch(self, spec: ProcessorSpec) -> Launched:
            launched = super().launch(spec)
            docker.from_env().containers.get(spec.name).remove(force=True)
            return launched

    manager = KatoContainerManager(settings, RemovedUnderUs())
    processor_id = f"rmf-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id=processor_id)
    assert caught.value.details == {"processor_id": processor_id}
    _assert_nothing_left(manager, processor_id)


_MORE_CPUS_THAN_THE_HOST = float(min((os.cpu_count() or 1) + 1, 64))


@pytest.mark.parametrize(
    "limit", [{"cpu_limit": _MORE_CPUS_THAN_THE_HOST}, {"memory_limit": "1b"}], ids=str
)
def test_a_config_the_engine_refuses_gives_a_clean_error(
    manager: KatoContainerManager, limit: dict[str, object]
) -> None:
    if limit.get("cpu_limit", 0) == os.cpu_count():
        pytest.skip("a host with 64 CPUs or more accepts every allowed cpu_limit")
    processor_id = f"refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id=processor_id, config=limit)
    error = caught.value
    assert set(error.details) == {"processor_id"}
    assert error.message.startswith(f"processor {processor_id} did not start: ")
    assert error.diagnostics  # what the engine said, for the operator
    for said in error.diagnostics:
        assert said not in error.message
    _assert_nothing_left(manager, processor_id)


def _assert_nothing_left(manager: KatoContainerManager, processor_id: str) -> None:
    engine = docker.from_env()
    label = f"kato.processor_id={processor_id}"
    assert engine.containers.list(all=True, filters={"label": label}) == []
    with pytest.raises(NotFound):
        engine.volumes.get(f"kato-data-{processor_id}")


@pytest.fixture
def crashing_image(settings: ContainerSettings) -> str:
    """`kato:fastapi` whose command prints a line and exits 3 (labelled, removed at the end)."""
    tag = f"kato-it-crash:{settings.extra_labels['kato.test']}"
    dockerfile = (
        f"FROM {settings.image}\n"
        'ENTRYPOINT []\nCMD ["python", "-c", '
        "\"import sys; print('kato-crash-test: refusing to start', flush=True); sys.exit(3)\"]\n"
    )
    docker.from_env().images.build(
        fileobj=io.BytesIO(dockerfile.encode()),
        tag=tag,
        labels=dict(settings.extra_labels),
        rm=True,
    )
    return tag


def test_start_failure_raises_with_logs_and_leaves_nothing(
    settings: ContainerSettings, crashing_image: str
) -> None:
    manager = KatoContainerManager(settings.model_copy(update={"image": crashing_image}))
    processor_id = f"crash-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id=processor_id)
    assert "kato-crash-test: refusing to start" in caught.value.diagnostics
    engine = docker.from_env()
    label = f"kato.processor_id={processor_id}"
    assert engine.containers.list(all=True, filters={"label": label}) == []
    with pytest.raises(NotFound):
        engine.volumes.get(f"kato-data-{processor_id}")


def test_logs_and_stats(manager: KatoContainerManager) -> None:
    info = manager.create_processor()
    assert list(manager.logs(info.processor_id, tail=50)) != []
    stats = manager.stats(info.processor_id)
    assert 0 < stats["memory_bytes"] <= stats["memory_limit_bytes"]


def test_stats_read_while_the_container_is_removed_say_what_happened(
    manager: KatoContainerManager, caplog: pytest.LogCaptureFixture
) -> None:
    """The dashboard reads stats while reaps and hibernations remove containers: a read the
    removal cuts short is a removal, not a lost engine (what the log used to say)."""
    info = manager.create_processor()
    readings: list[dict[str, object]] = []
    with caplog.at_level(logging.INFO, "container_manager"), ThreadPoolExecutor(1) as pool:
        # By name, as `manager.stats` reads once it has looked the container up: a removal
        # after the lookup is what this plays (one before it is a ProcessorNotFoundError).
        readings.append(manager.backend.stats(info.container_name))  # answers at once
        removal = pool.submit(manager.remove_processor, info.processor_id)
        while not removal.done():  # reads across the whole removal
            readings.append(manager.backend.stats(info.container_name))
        removal.result()
    assert readings[0]["memory_bytes"]
    assert all(r == {} or "memory_bytes" in r for r in readings)
    assert manager.backend.stats(info.container_name) == {}
    assert "lost connection" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_ping_answers_and_an_unreachable_engine_is_unavailable(
    manager: KatoContainerManager,
) -> None:
    manager.ping()
    engine = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    nowhere = DockerBackend(engine)
    with pytest.raises(EngineUnavailableError):
        nowhere.ping()
