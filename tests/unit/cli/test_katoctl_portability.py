"""katoctl export / import --processor in process: a FakeBackend manager, and the real processor
app (memory store) answering every HTTP call. The session commands run against the real
manager in tests/integration/cli."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import cli.main
import cli.portability
from cli.main import app
from container_manager import EngineUnavailableError, KatoContainerManager
from kato.processor import KatoProcessor, Observation, ProcessorConfig
from kato.processor.store.memory import MemoryStore
from kato.services.app import create_app
from kato.services.settings import ServiceSettings

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("manager")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> KatoProcessor:
    """The one processor every HTTP call of katoctl reaches, whatever the URL."""
    processor = KatoProcessor(ProcessorConfig(processor_id="cli"), MemoryStore())
    settings = ServiceSettings(processor_id="cli")

    def make_http() -> httpx.Client:
        return TestClient(create_app(settings, lambda _: processor))

    monkeypatch.setattr(cli.portability, "make_http", make_http)
    return processor


def _learned(engine: KatoProcessor) -> None:
    for symbols in (["a"], ["b"], ["c"]):
        engine.observe(Observation(symbols, [], {}, f"id-{symbols[0]}"))
    engine.learn()


def test_export_of_a_spawned_processor_writes_its_document(
    engine: KatoProcessor, tmp_path: Path
) -> None:
    containers = cli.main.make_manager()
    _learned(engine)
    info = containers.create_processor(user_id="u1")
    target = tmp_path / "memory.ndjson"
    result = runner.invoke(app, ["export", info.processor_id, "-o", str(target)])
    assert result.exit_code == 0, result.output
    lines = target.read_bytes().splitlines()
    assert json.loads(lines[0])["counts"] == {"patterns": 1, "symbols": 3}
    assert b'"end"' in lines[-1]
    stdout = runner.invoke(app, ["export", info.processor_id])
    assert stdout.stdout_bytes == target.read_bytes()


def test_import_into_a_new_processor(
    engine: KatoProcessor, tmp_path: Path
) -> None:
    containers = cli.main.make_manager()
    _learned(engine)
    info = containers.create_processor()
    target = tmp_path / "memory.ndjson"
    assert runner.invoke(app, ["export", info.processor_id, "-o", str(target)]).exit_code == 0
    engine.clear_all()
    result = runner.invoke(app, ["import", str(target), "--processor", "--user-id", "u2", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout.strip().splitlines()[-1])
    assert created["user_id"] == "u2" and created["processor_id"] != info.processor_id
    assert engine.pattern_count == 1


def test_a_refused_import_removes_the_new_processor(
    engine: KatoProcessor, tmp_path: Path
) -> None:
    containers = cli.main.make_manager()
    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(b'{"format": "kato-processor-export", "version": 1')
    result = runner.invoke(app, ["import", str(broken), "--processor"])
    assert result.exit_code == 1
    assert "KATO_INVALID_EXPORT" in result.stderr
    assert containers.list_processors() == []


def test_unreachable_manager_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["fork", "abc", "--manager-url", "http://127.0.0.1:9"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "ConnectError" in result.stderr


def test_ids_are_checked_before_any_request() -> None:
    result = runner.invoke(app, ["fork", "../etc"])
    assert result.exit_code == 2 and "ids are 1-64" in result.output


def test_export_of_a_session_needs_no_docker_engine(
    monkeypatch: pytest.MonkeyPatch, engine: KatoProcessor
) -> None:
    """No engine here: TARGET is taken for a session and asked of the manager."""

    def no_engine() -> KatoContainerManager:
        raise EngineUnavailableError("no docker here")

    monkeypatch.setattr(cli.main, "make_manager", no_engine)
    requested: list[str] = []
    original = cli.portability.make_http

    def recording() -> httpx.Client:
        client = original()
        client.event_hooks["request"].append(lambda request: requested.append(request.url.path))
        return client

    monkeypatch.setattr(cli.portability, "make_http", recording)
    result = runner.invoke(app, ["export", "abc123"])
    assert requested == ["/session/abc123/export"]
    assert result.exit_code == 1 and "KATO_NOT_FOUND" in result.stderr
