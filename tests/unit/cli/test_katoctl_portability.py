"""katoctl export / import --processor in process: a FakeBackend manager, and the real processor
app (memory store, served on loopback) answering every HTTP call. The session commands run
against the real manager in tests/integration/cli."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import cli.main
import cli.portability
from cli.main import app
from container_manager import EngineUnavailableError, KatoContainerManager
from kato.client import SessionInfo
from kato.processor import KatoProcessor, Observation, ProcessorConfig
from kato.processor.store.memory import MemoryStore
from kato.services.app import create_app
from kato.services.settings import ServiceSettings
from kato.web.launcher import ThreadServer

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("manager")


class _ToOneServer(httpx.HTTPTransport):
    """Every request to the service at `url` (`processor`'s), whatever its own URL says; the
    paths asked for are recorded."""

    def __init__(self, url: str, processor: KatoProcessor) -> None:
        super().__init__()
        self.server, self.processor, self.paths = httpx.URL(url), processor, list[str]()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        server = self.server
        request.url = request.url.copy_with(
            scheme=server.scheme, host=server.host, port=server.port
        )
        return super().handle_request(request)


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch) -> Iterator[_ToOneServer]:
    """What every client of katoctl's commands is given: one processor service on loopback."""
    processor = KatoProcessor(ProcessorConfig(processor_id="cli"), MemoryStore())
    app = create_app(ServiceSettings(processor_id="cli"), lambda _: processor)
    with ThreadServer(app, timeout_graceful_shutdown=1) as served:
        to_server = _ToOneServer(served.url, processor)
        monkeypatch.setattr(cli.portability.katoctl, "transport", to_server)
        yield to_server


@pytest.fixture
def engine(transport: _ToOneServer) -> KatoProcessor:
    """The one processor every HTTP call of katoctl reaches, whatever the URL."""
    return transport.processor


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


def test_import_into_a_new_processor(engine: KatoProcessor, tmp_path: Path) -> None:
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


def test_a_refused_import_removes_the_new_processor(engine: KatoProcessor, tmp_path: Path) -> None:
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
    monkeypatch: pytest.MonkeyPatch, transport: _ToOneServer
) -> None:
    """No engine here: TARGET is taken for a session and asked of the manager."""

    def no_engine() -> KatoContainerManager:
        raise EngineUnavailableError("no docker here")

    monkeypatch.setattr(cli.main, "make_manager", no_engine)
    result = runner.invoke(app, ["export", "abc123"])
    assert transport.paths == ["/session/abc123/export"]
    assert result.exit_code == 1 and "KATO_NOT_FOUND" in result.stderr


def test_a_refused_export_writes_no_file(engine: KatoProcessor, tmp_path: Path) -> None:
    target = tmp_path / "never.ndjson"
    result = runner.invoke(app, ["export", "abc123", "-o", str(target)])
    assert result.exit_code == 1 and "KATO_NOT_FOUND" in result.stderr
    assert not target.exists()


def test_a_new_session_prints_as_the_manager_wrote_it() -> None:
    """`import --json` and `fork --json` print the manager's answer, read by the client."""
    answer = {
        "session_id": "a" * 32,
        "processor_id": "kato-abc",
        "user_id": None,
        "status": "running",
        "url": "http://127.0.0.1:1234",
        "token": "t",
        "created_at": "2026-12-07T12:00:00.120Z",
        "last_activity": "2026-12-07T12:00:01.000Z",
        "expires_at": None,
    }
    assert cli.portability._view(SessionInfo.from_dict(answer)) == answer


def test_the_commands_do_not_import_katoctl() -> None:
    """cli.main imports this module and hands it what it needs (`register`): no import cycle,
    not even one deferred into a function."""
    tree = ast.parse(Path(cli.portability.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module or ''}:{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert not {name for name in imported if name in {":main", "main", "cli.main", "cli:main"}}
