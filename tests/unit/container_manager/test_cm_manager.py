"""KatoContainerManager on the FakeBackend: spec building, lifecycle, clean-up, adoption."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from container_manager import (
    ConfigValidationError,
    ContainerSettings,
    FakeBackend,
    KatoContainerManager,
    Limits,
    ProcessorNotFoundError,
    ProcessorStartError,
)


def test_spec_carries_labels_limits_security_and_env(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor(
        user_id="u1",
        session_id="s1",
        config={"max_pattern_length": 5, "recall_threshold": 0.2, "memory_limit": "256m"},
    )
    container = fake.container_for(info.processor_id)
    assert container is not None
    spec = container.spec
    assert spec.name == f"kato-proc-{info.processor_id}"
    assert spec.image == "kato:fastapi"
    assert spec.volume == f"kato-data-{info.processor_id}"
    assert spec.labels == {
        "kato.managed": "true",
        "kato.test": "unit",
        "kato.processor_id": info.processor_id,
        "kato.session_id": "s1",
        "kato.user_id": "u1",
        "kato.created_at": info.created_at,
        "kato.token_salt": spec.labels["kato.token_salt"],
    }
    assert spec.env["KATO_PROCESSOR_TOKEN"] == info.token
    assert manager.tokens.token_for(info.processor_id, spec.labels["kato.token_salt"]) == info.token
    assert spec.limits == Limits(memory="256m", cpu=1.0, pids=256)
    assert (spec.user, spec.data_dir, spec.port) == ("10001", "/data", 8000)
    assert spec.tmpfs == {"/tmp": 64 * 2**20}
    assert (spec.read_only, spec.cap_drop, spec.no_new_privileges) == (True, ("ALL",), True)
    assert (spec.limits.memory_bytes, spec.limits.nano_cpus) == (256 * 2**20, 1_000_000_000)
    assert spec.env["PROCESSOR_ID"] == info.processor_id
    assert spec.env["KATO_DATA_DIR"] == "/data"
    assert spec.env["MAX_PATTERN_LENGTH"] == "5"
    assert spec.env["RECALL_THRESHOLD"] == "0.2"
    assert spec.env["KATO_PROCESSOR_TOKEN"] == info.token
    assert len(info.token) >= 32


def test_create_returns_reachable_info_with_timings(manager: KatoContainerManager) -> None:
    info = manager.create_processor(session_id="s1")
    assert info.status == "running"
    assert info.port is not None
    assert info.internal_url == info.external_url == f"http://127.0.0.1:{info.port}"
    assert set(info.timings) == {"create_s", "start_s", "ready_s"}
    assert datetime.fromisoformat(info.created_at.replace("Z", "+00:00")).tzinfo is not None
    with httpx.Client(transport=manager.backend.http_transport()) as client:
        assert client.get(f"{info.internal_url}/health").status_code == 200
        assert client.get(f"{info.internal_url}/stm").status_code == 401
        authorized = {"Authorization": f"Bearer {info.token}"}
        assert client.get(f"{info.internal_url}/stm", headers=authorized).status_code == 404
    assert info.to_dict()["processor_id"] == info.processor_id


def test_tokens_differ_per_processor(manager: KatoContainerManager) -> None:
    assert manager.create_processor().token != manager.create_processor().token


def test_network_mode_publishes_no_port(settings: ContainerSettings, fake: FakeBackend) -> None:
    manager = KatoContainerManager(settings.model_copy(update={"network": "katonet"}), fake)
    info = manager.create_processor()
    assert info.port is None and info.external_url is None
    assert info.internal_url == f"http://{info.container_name}:8000"


def test_list_get_and_remove(manager: KatoContainerManager, fake: FakeBackend) -> None:
    first = manager.create_processor(session_id="a")
    second = manager.create_processor(session_id="b")
    assert {p.processor_id for p in manager.list_processors()} == {
        first.processor_id,
        second.processor_id,
    }
    got = manager.get_processor(first.processor_id)
    assert got is not None and got.session_id == "a" and got.timings == {}
    manager.remove_processor(first.processor_id)
    assert manager.get_processor(first.processor_id) is None
    assert f"kato-data-{first.processor_id}" not in fake.volumes
    assert [p.processor_id for p in manager.list_processors()] == [second.processor_id]
    with pytest.raises(ProcessorNotFoundError):
        manager.remove_processor(first.processor_id)


def test_list_only_sees_containers_with_its_extra_labels(
    manager: KatoContainerManager, settings: ContainerSettings, fake: FakeBackend
) -> None:
    other = KatoContainerManager(
        settings.model_copy(update={"extra_labels": {"kato.test": "other"}}), fake
    )
    mine = manager.create_processor()
    other.create_processor()
    assert [p.processor_id for p in manager.list_processors()] == [mine.processor_id]
    assert manager.prune() == []


def test_keep_data_then_recreate_reuses_volume_and_identity(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor(user_id="u", session_id="s")
    manager.remove_processor(info.processor_id, keep_data=True)
    assert manager.get_processor(info.processor_id) is None
    assert f"kato-data-{info.processor_id}" in fake.volumes
    resumed = manager.create_processor(processor_id=info.processor_id)
    assert resumed.processor_id == info.processor_id
    assert (resumed.session_id, resumed.user_id, resumed.created_at) == ("s", "u", info.created_at)
    assert resumed.container_id != info.container_id
    assert resumed.token != info.token


def test_stopped_container_is_recreated_not_restarted(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor(config={"max_pattern_length": 3})
    fake.stop(info.container_id)
    recreated = manager.create_processor(
        processor_id=info.processor_id, config={"max_pattern_length": 9}
    )
    assert info.container_id not in fake.containers
    assert recreated.status == "running"
    container = fake.containers[recreated.container_id]
    assert container.spec.env["MAX_PATTERN_LENGTH"] == "9"
    assert len(manager.list_processors()) == 1


def test_readiness_failure_removes_container_and_new_volume(
    settings: ContainerSettings,
) -> None:
    fake = FakeBackend(ready=False)
    manager = KatoContainerManager(settings, fake)
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id="never")
    assert caught.value.code == "KATO_PROCESSOR_START_FAILED"
    assert "not ready" in caught.value.message
    assert caught.value.details["logs"] == ["fake: serving on port 8000"]
    assert fake.containers == {} and fake.volumes == {}
    assert manager.records.get("never") is None


def test_crash_at_start_fails_fast_and_keeps_existing_volume(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor()
    manager.remove_processor(info.processor_id, keep_data=True)
    fake.crash_on_start = True
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id=info.processor_id)
    assert "exited" in caught.value.message
    assert "fake: processor exited during start-up" in caught.value.details["logs"]
    assert fake.containers == {}
    assert f"kato-data-{info.processor_id}" in fake.volumes
    assert manager.records.get(info.processor_id) is not None


def test_invalid_config_creates_nothing(manager: KatoContainerManager, fake: FakeBackend) -> None:
    with pytest.raises(ConfigValidationError):
        manager.create_processor(config={"bogus": 1})
    with pytest.raises(ConfigValidationError):
        manager.create_processor(processor_id="Not Valid")
    assert fake.containers == {} and fake.volumes == {}


def test_prune_removes_unclaimed_containers_and_their_volumes(
    manager: KatoContainerManager, settings: ContainerSettings, fake: FakeBackend, tmp_path
) -> None:
    kept = manager.create_processor()
    stranger = KatoContainerManager(settings.model_copy(update={"state_dir": tmp_path / "x"}), fake)
    orphan = stranger.create_processor()
    assert manager.prune() == [orphan.container_id]
    assert [p.processor_id for p in manager.list_processors()] == [kept.processor_id]
    assert f"kato-data-{orphan.processor_id}" not in fake.volumes


def test_restarted_manager_adopts_existing_containers(
    manager: KatoContainerManager, settings: ContainerSettings, fake: FakeBackend
) -> None:
    info = manager.create_processor(session_id="s", user_id="u")
    adopted = KatoContainerManager(settings, fake).get_processor(info.processor_id)
    assert adopted is not None
    assert (adopted.token, adopted.port, adopted.session_id, adopted.user_id) == (
        info.token,
        info.port,
        "s",
        "u",
    )
    assert KatoContainerManager(settings, fake).prune() == []


def test_logs_and_stats(manager: KatoContainerManager) -> None:
    info = manager.create_processor()
    assert list(manager.logs(info.processor_id, tail=10)) == ["fake: serving on port 8000"]
    assert manager.stats(info.processor_id)["memory_bytes"] > 0
    with pytest.raises(ProcessorNotFoundError):
        list(manager.logs("missing"))


def test_concurrent_creates_and_removes_of_different_processors(
    manager: KatoContainerManager,
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        infos = list(pool.map(lambda i: manager.create_processor(session_id=f"s{i}"), range(16)))
        assert len({i.processor_id for i in infos}) == 16
        list(pool.map(lambda i: manager.remove_processor(i.processor_id), infos))
    assert manager.list_processors() == []
    assert manager.records.ids() == set()


def test_prune_during_start_spares_the_starting_container(settings: ContainerSettings) -> None:
    pruned_while_starting: list[list[str]] = []

    class PruningBackend(FakeBackend):
        def start(self, container_id: str) -> None:
            super().start(container_id)
            pruned_while_starting.append(manager.prune())

    manager = KatoContainerManager(settings, PruningBackend())
    info = manager.create_processor()
    assert pruned_while_starting == [[]]
    assert manager.get_processor(info.processor_id) is not None


def test_resume_without_config_reuses_the_recorded_genes(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor(config={"max_pattern_length": 4, "cpu_limit": 0.5})
    manager.remove_processor(info.processor_id, keep_data=True)
    resumed = manager.create_processor(processor_id=info.processor_id)
    spec = fake.containers[resumed.container_id].spec
    assert spec.env["MAX_PATTERN_LENGTH"] == "4"
    assert spec.limits.cpu == 0.5


def test_token_is_recomputed_when_the_engine_does_not_return_it(tmp_path: Path) -> None:
    """Swarm keeps the token in a secret the API never returns: the manager derives it again,
    also after a restart (a new manager on the same state directory)."""
    fake = FakeBackend()
    settings = ContainerSettings(state_dir=tmp_path)
    info = KatoContainerManager(settings, fake).create_processor(session_id="s")
    container = fake.container_for(info.processor_id)
    assert container is not None
    container.spec = replace(
        container.spec,
        env={k: v for k, v in container.spec.env.items() if k != "KATO_PROCESSOR_TOKEN"},
    )
    restarted = KatoContainerManager(settings, fake).get_processor(info.processor_id)
    assert restarted is not None and restarted.token == info.token
    assert (tmp_path / "processor-token.key").stat().st_mode & 0o777 == 0o600
