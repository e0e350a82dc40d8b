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
    LogRotation,
    ProcessorNotFoundError,
    ProcessorStartError,
    PruneReport,
)
from container_manager.deployment import resolve_deployment
from tests.unit.container_manager.support import on_fake


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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
        "kato.deployment": manager.deployment,
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
    assert spec.logs == LogRotation(max_size="10m", max_files=3)
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
    assert set(info.timings) == {"launch_s", "ready_s"}
    assert datetime.fromisoformat(info.created_at.replace("Z", "+00:00")).tzinfo is not None
    with httpx.Client(transport=manager.http_transport) as client:
        assert client.get(f"{info.internal_url}/health").status_code == 200
        assert client.get(f"{info.internal_url}/stm").status_code == 401
        authorized = {"Authorization": f"Bearer {info.token}"}
        assert client.get(f"{info.internal_url}/stm", headers=authorized).status_code == 404
    assert info.to_dict()["processor_id"] == info.processor_id


def test_tokens_differ_per_processor(manager: KatoContainerManager) -> None:
    assert manager.create_processor().token != manager.create_processor().token


def test_network_mode_publishes_no_port(settings: ContainerSettings, fake: FakeBackend) -> None:
    manager = on_fake(settings.model_copy(update={"network": "katonet"}), fake)
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
    other = on_fake(settings.model_copy(update={"extra_labels": {"kato.test": "other"}}), fake)
    mine = manager.create_processor()
    other.create_processor(session_id="theirs")
    assert [p.processor_id for p in manager.list_processors()] == [mine.processor_id]
    assert manager.prune(claims=set).containers_removed == []


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
    manager = on_fake(settings, fake)
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id="never")
    assert caught.value.code == "KATO_PROCESSOR_START_FAILED"
    assert "not ready" in caught.value.message
    assert caught.value.details == {"processor_id": "never"}
    assert caught.value.diagnostics[-1] == "fake: serving on port 8000"
    assert fake.containers == {} and fake.volumes == {}


def test_crash_at_start_fails_fast_and_keeps_existing_volume(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor()
    manager.remove_processor(info.processor_id, keep_data=True)
    fake.crash_on_start = True
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id=info.processor_id)
    assert "exited" in caught.value.message
    assert "fake: processor exited during start-up" in caught.value.diagnostics
    assert fake.containers == {}
    assert f"kato-data-{info.processor_id}" in fake.volumes


def test_invalid_config_creates_nothing(manager: KatoContainerManager, fake: FakeBackend) -> None:
    with pytest.raises(ConfigValidationError):
        manager.create_processor(config={"bogus": 1})
    with pytest.raises(ConfigValidationError):
        manager.create_processor(processor_id="Not Valid")
    assert fake.containers == {} and fake.volumes == {}


def test_prune_removes_orphan_containers_and_keeps_their_volumes_for_the_grace_period(
    settings: ContainerSettings, fake: FakeBackend
) -> None:
    clock = Clock(1_000_000.0)
    manager = on_fake(settings.model_copy(update={"orphan_grace": 3600}), fake, clock)
    kept = manager.create_processor(session_id="kept")
    orphan = manager.create_processor(session_id="lost")
    spawned = manager.create_processor()  # katoctl spawn: no session, the CLI's, never an orphan
    claims = lambda: {kept.processor_id}  # noqa: E731  the caller no longer claims `orphan`
    volume = f"kato-data-{orphan.processor_id}"

    first = manager.prune(claims)
    assert first.containers_removed == [orphan.container_id]
    assert (first.volumes_kept, first.volumes_removed) == ([volume], [])
    assert {p.processor_id for p in manager.list_processors()} == {
        kept.processor_id,
        spawned.processor_id,
    }
    assert volume in fake.volumes
    clock.now += 3599
    assert on_fake(manager.settings, fake, clock).prune(claims) == PruneReport(
        volumes_kept=[volume]
    )  # a restarted manager keeps counting from the first sighting
    assert volume in fake.volumes
    clock.now += 1
    assert manager.prune(claims) == PruneReport(volumes_removed=[volume])
    assert volume not in fake.volumes
    assert f"kato-data-{kept.processor_id}" in fake.volumes
    assert f"kato-data-{spawned.processor_id}" in fake.volumes
    assert manager.orphans.pending() == {}


def test_an_orphan_volume_claimed_again_within_the_grace_period_is_kept(
    settings: ContainerSettings, fake: FakeBackend
) -> None:
    clock = Clock(1_000_000.0)
    manager = on_fake(settings.model_copy(update={"orphan_grace": 60}), fake, clock)
    info = manager.create_processor(session_id="s", config={"max_pattern_length": 2})
    claimed: set[str] = set()
    manager.prune(lambda: claimed)
    claimed.add(info.processor_id)  # the mistake is repaired: the session claims it again
    manager.create_processor(processor_id=info.processor_id)
    clock.now += 61
    assert manager.prune(lambda: claimed) == PruneReport()
    assert f"kato-data-{info.processor_id}" in fake.volumes
    assert manager.orphans.pending() == {}


def test_a_volume_whose_grace_ended_is_kept_if_claimed_at_the_last_moment(
    settings: ContainerSettings, fake: FakeBackend
) -> None:
    clock = Clock(1_000_000.0)
    manager = on_fake(settings.model_copy(update={"orphan_grace": 60}), fake, clock)
    info = manager.create_processor(session_id="s")
    manager.remove_processor(info.processor_id, keep_data=True)
    manager.prune(set)
    clock.now += 61
    answers = iter([set(), {info.processor_id}])  # claimed between listing and removal
    assert manager.prune(lambda: next(answers)) == PruneReport()
    assert f"kato-data-{info.processor_id}" in fake.volumes


def test_a_pooled_volume_left_without_its_container_is_an_orphan(
    settings: ContainerSettings, fake: FakeBackend
) -> None:
    """A crash between a pooled processor's volume and its container leaves a volume no one
    will ever take (the pool never reuses an id): swept like any orphan, after the grace."""
    clock = Clock(1_000_000.0)
    manager = on_fake(settings.model_copy(update={"orphan_grace": 60}), fake, clock)
    ready = manager.create_processor(pooled=True)  # in the pool: its container is there
    left = manager.create_processor(pooled=True)
    manager.remove_processor(left.processor_id, keep_data=True)  # the crash's leftover
    hibernated = manager.create_processor(pooled=True)  # claimed by a session, then hibernated
    manager.remove_processor(hibernated.processor_id, keep_data=True)
    claims = lambda: {hibernated.processor_id}  # noqa: E731
    volume = f"kato-data-{left.processor_id}"
    assert manager.prune(claims) == PruneReport(volumes_kept=[volume])
    clock.now += 60
    assert manager.prune(claims) == PruneReport(volumes_removed=[volume])
    assert set(fake.volumes) == {
        f"kato-data-{ready.processor_id}",
        f"kato-data-{hibernated.processor_id}",
    }
    assert [p.processor_id for p in manager.list_processors()] == [ready.processor_id]


def test_two_deployments_on_one_engine_never_touch_each_other(
    fake: FakeBackend, tmp_path: Path
) -> None:
    """Default settings but two state directories: two deployments, each blind to the other."""
    one = on_fake(ContainerSettings(state_dir=tmp_path / "one", orphan_grace=0), fake)
    two = on_fake(ContainerSettings(state_dir=tmp_path / "two", orphan_grace=0), fake)
    assert one.deployment != two.deployment
    mine = one.create_processor(session_id="s1")
    theirs = two.create_processor(session_id="s2")
    for _ in range(2):  # orphan_grace 0: a second prune would remove any volume it marked
        assert one.prune(lambda: {mine.processor_id}) == PruneReport()
        assert two.prune(lambda: {theirs.processor_id}) == PruneReport()
    assert [p.processor_id for p in one.list_processors()] == [mine.processor_id]
    assert [p.processor_id for p in two.list_processors()] == [theirs.processor_id]
    assert one.get_processor(theirs.processor_id) is None
    with pytest.raises(ProcessorNotFoundError):
        one.remove_processor(theirs.processor_id)
    assert fake.container_for(theirs.processor_id) is not None
    assert f"kato-data-{theirs.processor_id}" in fake.volumes
    volume = fake.volumes[f"kato-data-{theirs.processor_id}"]
    assert volume["kato.deployment"] == two.deployment


def test_a_volume_is_removed_only_by_its_own_deployment(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    fake.volumes["kato-data-shared"] = {"kato.managed": "true", "kato.deployment": "other"}
    assert not fake.remove("x", "kato-data-shared", keep_data=False, owner={"kato.deployment": "m"})
    assert "kato-data-shared" in fake.volumes
    with pytest.raises(ProcessorNotFoundError):
        manager.remove_processor("shared")  # same name scheme, another deployment's data
    assert "kato-data-shared" in fake.volumes


def test_deployment_id_is_made_once_per_state_dir_and_env_wins(tmp_path: Path) -> None:
    first = resolve_deployment(None, tmp_path / "a")
    assert first == resolve_deployment(None, tmp_path / "a")
    assert (tmp_path / "a" / "deployment").read_text().strip() == first
    assert resolve_deployment(None, tmp_path / "b") != first
    assert resolve_deployment("prod-1", tmp_path / "a") == "prod-1"
    with pytest.raises(ConfigValidationError):
        resolve_deployment("Bad Id", tmp_path / "a")
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(lambda _: resolve_deployment(None, tmp_path / "race"), range(16)))
    assert len(ids) == 1


def test_restarted_manager_adopts_existing_containers(
    manager: KatoContainerManager, settings: ContainerSettings, fake: FakeBackend
) -> None:
    info = manager.create_processor(session_id="s", user_id="u")
    adopted = on_fake(settings, fake).get_processor(info.processor_id)
    assert adopted is not None
    assert (adopted.token, adopted.port, adopted.session_id, adopted.user_id) == (
        info.token,
        info.port,
        "s",
        "u",
    )
    assert on_fake(settings, fake).prune(lambda: {info.processor_id}) == PruneReport()


def test_logs_and_stats(manager: KatoContainerManager) -> None:
    info = manager.create_processor()
    assert list(manager.logs(info.processor_id, tail=10)) == ["fake: serving on port 8000"]
    assert manager.stats(info.processor_id)["memory_bytes"] > 0
    with pytest.raises(ProcessorNotFoundError):
        list(manager.logs("missing"))


def test_concurrent_creates_and_removes_of_different_processors(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        infos = list(pool.map(lambda i: manager.create_processor(session_id=f"s{i}"), range(16)))
        assert len({i.processor_id for i in infos}) == 16
        list(pool.map(lambda i: manager.remove_processor(i.processor_id), infos))
    assert manager.list_processors() == []
    assert fake.volumes == {}


def test_prune_during_start_spares_the_starting_container(settings: ContainerSettings) -> None:
    pruned_while_starting: list[PruneReport] = []

    class PruningBackend(FakeBackend):
        def start(self, container_id: str) -> None:
            super().start(container_id)
            pruned_while_starting.append(manager.prune(claims=set))

    manager = on_fake(settings, PruningBackend())
    info = manager.create_processor(session_id="not-yet-claimed")
    assert pruned_while_starting == [PruneReport()]
    assert manager.get_processor(info.processor_id) is not None


def test_resume_takes_the_callers_config_and_the_identity_its_volume_carries(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor(
        session_id="s", user_id="u", config={"max_pattern_length": 4, "cpu_limit": 0.5}
    )
    manager.remove_processor(info.processor_id, keep_data=True)
    resumed = manager.create_processor(
        processor_id=info.processor_id, config={"max_pattern_length": 7}
    )
    spec = fake.containers[resumed.container_id].spec
    assert spec.env["MAX_PATTERN_LENGTH"] == "7"
    assert spec.limits.cpu == 1.0
    assert (resumed.session_id, resumed.user_id, resumed.created_at) == ("s", "u", info.created_at)


def test_a_container_removed_during_start_up_leaves_nothing_and_a_clean_error(
    settings: ContainerSettings,
) -> None:
    class RemovedUnderUs(FakeBackend):
        """`docker rm -f` right after start, while the manager waits for readiness."""

        def start(self, container_id: str) -> None:
            super().start(container_id)
            self.vanish(container_id)

    fake = RemovedUnderUs()
    manager = on_fake(settings, fake)
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id="gone")
    assert caught.value.details == {"processor_id": "gone"}
    assert fake.containers == {} and fake.volumes == {}


def test_engine_text_stays_out_of_start_errors(
    settings: ContainerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    runc = "runc create failed: /sys/fs/cgroup/kubepods/0123456789ab/cpu.max: invalid argument"

    class Refusing(FakeBackend):
        def start(self, container_id: str) -> None:
            raise ProcessorStartError("the container engine refused to start it", {}, [runc])

    manager = on_fake(settings, Refusing())
    with caplog.at_level("WARNING", "container_manager"), pytest.raises(
        ProcessorStartError
    ) as caught:
        manager.create_processor(processor_id="refused")
    error = caught.value
    assert "runc" not in error.message and "runc" not in str(error.details)
    assert set(error.details) == {"processor_id"}
    assert runc in error.diagnostics
    assert any(runc in str(getattr(r, "diagnostics", "")) for r in caplog.records)


def test_a_container_made_before_deployment_labels_is_still_ours_when_named_by_id(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    """An upgraded manager keeps routing and replacing its sessions' old containers, which
    its caller names by processor id; another deployment's container stays invisible."""
    info = manager.create_processor(session_id="s")
    container = fake.container_for(info.processor_id)
    assert container is not None
    old_labels = {k: v for k, v in container.spec.labels.items() if k != "kato.deployment"}
    container.spec = replace(container.spec, labels=old_labels)
    unclaimed = manager.create_processor()
    other = fake.container_for(unclaimed.processor_id)
    assert other is not None
    other.spec = replace(other.spec, labels={**other.spec.labels, "kato.deployment": "other"})

    adopted = manager.get_processor(info.processor_id)
    assert adopted is not None and adopted.container_id == info.container_id
    assert manager.get_processor(unclaimed.processor_id) is None
    resumed = manager.create_processor(processor_id=info.processor_id)  # replaces the old one
    assert info.container_id not in fake.containers
    assert manager.get_processor(info.processor_id) == replace(resumed, timings={})


def test_a_paused_container_is_never_replaced(
    manager: KatoContainerManager, fake: FakeBackend
) -> None:
    info = manager.create_processor(session_id="s")
    fake.pause(info.container_id)
    with pytest.raises(ProcessorStartError) as caught:
        manager.create_processor(processor_id=info.processor_id)
    assert caught.value.details == {"processor_id": info.processor_id, "status": "paused"}
    assert fake.containers[info.container_id].status == "paused"
    assert len(fake.containers) == 1


def test_token_is_recomputed_when_the_engine_does_not_return_it(tmp_path: Path) -> None:
    """Swarm keeps the token in a secret the API never returns: the manager derives it again,
    also after a restart (a new manager on the same state directory)."""
    fake = FakeBackend()
    settings = ContainerSettings(state_dir=tmp_path)
    info = on_fake(settings, fake).create_processor(session_id="s")
    container = fake.container_for(info.processor_id)
    assert container is not None
    container.spec = replace(
        container.spec,
        env={k: v for k, v in container.spec.env.items() if k != "KATO_PROCESSOR_TOKEN"},
    )
    restarted = on_fake(settings, fake).get_processor(info.processor_id)
    assert restarted is not None and restarted.token == info.token
    assert (tmp_path / "processor-token.key").stat().st_mode & 0o777 == 0o600
