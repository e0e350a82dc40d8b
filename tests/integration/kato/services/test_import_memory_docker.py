"""An import near the accepted limit into a real container with a real memory limit: the
processor answers (201-like success or a clear 413) and is never OOM-killed.

The ratio reproduces the OOM of issue 18: an import's peak RSS is ~19x its document
(kato/services/import_budget.py), so a 7-8 MiB document in a 128 MiB container is what a
256 MiB document was in a 512 MiB one; on main the container died with exit 137.
"""

from __future__ import annotations

import random
from pathlib import Path

import docker
import httpx
import pytest

from container_manager import ContainerSettings, KatoContainerManager
from container_manager.testing import processor_http
from kato.processor import KatoProcessor, Observation, ProcessorConfig
from kato.processor.portability import export_chunks
from kato.processor.store.memory import MemoryStore

pytestmark = pytest.mark.docker

MIB = 2**20


def _document(patterns: int) -> bytes:
    rng = random.Random(18)
    vocabulary = [f"s{i}" for i in range(1000)]
    source = KatoProcessor(ProcessorConfig(processor_id="it-source"), MemoryStore())
    source.update_genes({"predict": False})
    for index in range(patterns):
        for _ in range(rng.randint(3, 12)):
            event = rng.sample(vocabulary, rng.randint(1, 3))
            source.observe(Observation(event, [], {}, f"b{index}"))
        source.learn()
    return b"".join(export_chunks(source.memory_image(), source.processor_id))


def test_a_large_import_never_oom_kills_the_processor(
    settings: ContainerSettings, tmp_path: Path
) -> None:
    document = _document(30000)
    assert len(document) > 6 * MIB
    limited = settings.model_copy(update={"memory_limit": "128m"})
    manager = KatoContainerManager(limited)
    info = manager.create_processor(session_id="import-oom")
    try:
        with processor_http(info) as http:
            try:
                answer = http.put(
                    "/import",
                    content=document,
                    headers={"Content-Type": "application/x-ndjson"},
                    timeout=300,
                )
            except httpx.TransportError as exc:  # main: the container dies mid-request
                answer = None
                failure = f"{type(exc).__name__}"
        engine = docker.from_env()
        try:
            state = engine.containers.get(info.container_id).attrs["State"]
        finally:
            engine.close()
        assert not state["OOMKilled"] and state["Running"], state
        assert answer is not None, failure
        assert answer.status_code in (200, 413), answer.text
        if answer.status_code == 413:
            error = answer.json()["error"]
            assert error["code"] == "KATO_PAYLOAD_TOO_LARGE"
            assert 0 < error["details"]["limit_bytes"] < len(document)
    finally:
        manager.remove_processor(info.processor_id)
