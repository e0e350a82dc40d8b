"""`docker kill` of a processor container (SIGKILL to the service, no shutdown at all), then a new
container on the same data volume: STM, genes and predictions are back as they were."""

from __future__ import annotations

import docker
import pytest

from container_manager import KatoContainerManager, ProcessorInfo
from container_manager.testing import processor_http

pytestmark = pytest.mark.docker


def _seen(info: ProcessorInfo) -> dict[str, object]:
    with processor_http(info) as http:
        return {
            "stm": http.get("/stm").json()["stm"],
            "predictions": http.get("/predictions").json()["predictions"],
            "genes": http.get("/gene/recall_threshold").json()["gene_value"],
            "time": http.get("/status").json()["time"],
        }


def test_docker_kill_keeps_stm_on_the_volume(manager: KatoContainerManager) -> None:
    info = manager.create_processor(session_id="crash")
    with processor_http(info) as http:
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
