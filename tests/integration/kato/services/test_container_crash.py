"""`docker kill` of a processor container (SIGKILL to the service, no shutdown at all), then a new
container on the same data volume: STM, genes and predictions are back as they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from container_manager import ContainerSettings, KatoContainerManager, ProcessorInfo

pytestmark = pytest.mark.docker


@pytest.fixture
def manager(
    processor_image: str, test_labels: dict[str, str], tmp_path: Path
) -> Iterator[KatoContainerManager]:
    settings = ContainerSettings(
        image=processor_image,
        state_dir=tmp_path / "state",
        name_prefix="kato-it-svckill",
        extra_labels=test_labels,
        ready_timeout=60,
    )
    manager = KatoContainerManager(settings)
    yield manager
    for info in manager.list_processors():
        manager.remove_processor(info.processor_id)


def _client(info: ProcessorInfo) -> httpx.Client:
    return httpx.Client(
        base_url=info.internal_url, headers={"Authorization": f"Bearer {info.token}"}, timeout=10
    )


def _seen(info: ProcessorInfo) -> dict[str, object]:
    with _client(info) as http:
        return {
            "stm": http.get("/stm").json()["stm"],
            "predictions": http.get("/predictions").json()["predictions"],
            "genes": http.get("/gene/recall_threshold").json()["gene_value"],
            "time": http.get("/status").json()["time"],
        }


def test_docker_kill_keeps_stm_on_the_volume(manager: KatoContainerManager) -> None:
    info = manager.create_processor(session_id="crash")
    with _client(info) as http:
        for event in (["a"], ["b"], ["c"]):
            http.post("/observe", json={"strings": event}).raise_for_status()
        http.post("/learn").raise_for_status()
        http.post("/genes/update", json={"genes": {"recall_threshold": 0.3}}).raise_for_status()
        for event in (["a"], ["b"]):
            http.post("/observe", json={"strings": event}).raise_for_status()
    before = _seen(info)
    assert before["stm"] == [["a"], ["b"]] and before["predictions"]

    engine = docker.from_env()
    try:
        engine.containers.get(info.container_id).kill()  # SIGKILL
    finally:
        engine.close()
    again = manager.create_processor(processor_id=info.processor_id)
    assert again.container_id != info.container_id
    assert _seen(again) == before
