"""katoctl in-process (Typer CliRunner) against a manager on a FakeBackend."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.render import format_age
from container_manager import (
    ContainerSettings,
    FakeBackend,
    ImageBuildError,
    KatoContainerManager,
)
from session_manager.registry import SessionRecord, SessionRegistry

runner = CliRunner()


def test_spawn_json_prints_the_created_processor(manager: KatoContainerManager) -> None:
    result = runner.invoke(
        app,
        [
            "spawn",
            "--session-id",
            "s1",
            "--user-id",
            "u1",
            "--gene",
            "max_pattern_length=5",
            "--gene",
            "recall_threshold=0.2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout.strip().splitlines()[-1])
    assert (created["session_id"], created["user_id"], created["status"]) == ("s1", "u1", "running")
    fake = manager.backend
    assert isinstance(fake, FakeBackend)
    container = fake.container_for(created["processor_id"])
    assert container is not None
    assert container.spec.env["MAX_PATTERN_LENGTH"] == "5"
    assert container.spec.env["RECALL_THRESHOLD"] == "0.2"


def test_spawn_table_output(manager: KatoContainerManager) -> None:
    result = runner.invoke(app, ["spawn", "--session-id", "s1"])
    assert result.exit_code == 0, result.output
    (info,) = manager.list_processors()
    assert info.processor_id in result.stdout
    assert "internal_url" in result.stdout


def test_spawn_rejects_unknown_gene(manager: KatoContainerManager) -> None:
    result = runner.invoke(app, ["spawn", "--gene", "bogus=1"])
    assert result.exit_code == 1
    assert "KATO_VALIDATION_ERROR" in result.stderr
    assert manager.list_processors() == []


def test_spawn_rejects_malformed_gene(manager: KatoContainerManager) -> None:
    result = runner.invoke(app, ["spawn", "--gene", "novalue"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_spawn_failure_shows_log_lines(manager: KatoContainerManager) -> None:
    assert isinstance(manager.backend, FakeBackend)
    manager.backend.ready = False
    result = runner.invoke(app, ["spawn"])
    assert result.exit_code == 1
    assert "KATO_PROCESSOR_START_FAILED" in result.stderr
    assert "fake: serving on port 8000" in result.stderr


def test_ls_json_and_table(manager: KatoContainerManager) -> None:
    info = manager.create_processor(session_id="s1", user_id="u1")
    listed = json.loads(runner.invoke(app, ["ls", "--json"]).stdout)
    assert [p["processor_id"] for p in listed] == [info.processor_id]
    assert listed[0]["stats"]["memory_bytes"] > 0
    table = runner.invoke(app, ["ls"])
    assert table.exit_code == 0
    assert info.processor_id in table.stdout and "40.0 MiB" in table.stdout


def test_ls_shows_pooled_processors_and_their_claims(manager: KatoContainerManager) -> None:
    """A claim is recorded in the session registry only (labels cannot change), so ls reads it
    there: a ready pooled processor shows as `pool`, a claimed one with its session."""
    ready = manager.create_processor(pooled=True)
    claimed = manager.create_processor(pooled=True)
    _registry_claiming(manager, claimed.processor_id)
    table = runner.invoke(app, ["ls"], terminal_width=200)
    rows = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if "│" in line}
    assert "pool" in rows[ready.processor_id] and "session-0" not in rows[ready.processor_id]
    assert "session-0 (pool)" in rows[claimed.processor_id]
    listed = json.loads(runner.invoke(app, ["ls", "--json"]).stdout)
    claims = {p["processor_id"]: (p["pooled"], p["claimed_by"]) for p in listed}
    assert claims == {ready.processor_id: (True, None), claimed.processor_id: (True, "session-0")}


def test_kill_removes_and_unknown_id_fails(manager: KatoContainerManager) -> None:
    info = manager.create_processor()
    result = runner.invoke(app, ["kill", info.processor_id])
    assert result.exit_code == 0 and "removed" in result.stdout
    assert manager.list_processors() == []
    missing = runner.invoke(app, ["kill", "nope"])
    assert missing.exit_code == 2
    assert "KATO_PROCESSOR_NOT_FOUND" in missing.stderr and "nope" in missing.stderr


def test_kill_all(manager: KatoContainerManager) -> None:
    manager.create_processor()
    manager.create_processor()
    assert runner.invoke(app, ["kill", "--all"]).exit_code == 0
    assert manager.list_processors() == []
    assert runner.invoke(app, ["kill"]).exit_code == 1


def _registry_claiming(manager: KatoContainerManager, *processor_ids: str) -> None:
    """A session registry in the manager's state directory holding these processors."""
    registry = SessionRegistry(manager.settings.state_dir / "sessions.sqlite3")
    for number, processor_id in enumerate(processor_ids):
        registry.put(
            SessionRecord(
                session_id=f"session-{number}",
                processor_id=processor_id,
                user_id=None,
                genes={},
                ttl_seconds=None,
                status="running",
                created_at=0.0,
                last_activity=0.0,
            )
        )
    registry.close()


def test_logs_and_prune(manager: KatoContainerManager) -> None:
    info = manager.create_processor()  # spawned without a session: the CLI's, never an orphan
    logs = runner.invoke(app, ["logs", info.processor_id])
    assert logs.stdout.splitlines() == ["fake: serving on port 8000"]
    claimed = manager.create_processor(session_id="session-0")
    orphan = manager.create_processor(session_id="lost")  # no session in the registry
    _registry_claiming(manager, claimed.processor_id)
    pruned = runner.invoke(app, ["prune"])
    assert pruned.exit_code == 0
    assert "pruned 1" in pruned.stdout and orphan.container_id[:12] in pruned.stdout
    assert "1 orphan volume(s) kept for the grace period" in pruned.stdout
    assert f"kato-data-{orphan.processor_id}" in pruned.stdout
    assert {p.processor_id for p in manager.list_processors()} == {
        info.processor_id,
        claimed.processor_id,
    }


def test_prune_refuses_without_the_session_registry(manager: KatoContainerManager) -> None:
    info = manager.create_processor(session_id="s1")
    pruned = runner.invoke(app, ["prune"])
    assert pruned.exit_code == 1
    assert "no session registry" in pruned.stderr
    assert manager.get_processor(info.processor_id) is not None


def test_ls_kill_all_and_prune_see_only_their_own_deployment(
    manager: KatoContainerManager, tmp_path: Path
) -> None:
    """A session manager on another state directory shares the engine, never its processors."""
    neighbour = KatoContainerManager(
        ContainerSettings(state_dir=tmp_path / "neighbour", ready_timeout=0.3),
        manager.backend,
        http_transport=manager.http_transport,
    )
    theirs = neighbour.create_processor(session_id="their-session")
    mine = manager.create_processor()
    table = runner.invoke(app, ["ls"], terminal_width=200)
    assert manager.deployment in table.stdout and neighbour.deployment not in table.stdout
    assert mine.processor_id in table.stdout and theirs.processor_id not in table.stdout
    _registry_claiming(manager)
    assert runner.invoke(app, ["prune"]).stdout.startswith("pruned 0")
    assert runner.invoke(app, ["kill", "--all"]).exit_code == 0
    assert manager.list_processors() == []
    assert [p.processor_id for p in neighbour.list_processors()] == [theirs.processor_id]
    assert runner.invoke(app, ["kill", theirs.processor_id]).exit_code == 2
    assert neighbour.get_processor(theirs.processor_id) is not None


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: object) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_build_reports_progress_and_result(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def build_image(tag: str, *, base_image: str | None = None, progress=None) -> str:
        seen.update(tag=tag, base_image=base_image)
        progress("step 1/2: base image")
        return "sha256:feed"

    _fake_module(monkeypatch, "container_manager.build.image", build_image=build_image)
    result = runner.invoke(app, ["build", "--tag", "kato:test", "--base-image", "python:3.11"])
    assert result.exit_code == 0, result.output
    assert seen == {"tag": "kato:test", "base_image": "python:3.11"}
    assert "step 1/2: base image" in result.stderr
    assert "built kato:test" in result.stdout


def test_build_failure_exits_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    def build_image(tag: str, **_: object) -> str:
        raise ImageBuildError("pip install failed", {"step": "wheels"})

    _fake_module(monkeypatch, "container_manager.build.image", build_image=build_image)
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 1
    assert "KATO_IMAGE_BUILD_FAILED" in result.stderr and "wheels" in result.stderr


def test_up_calls_session_manager_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, ...]] = []
    _fake_module(
        monkeypatch, "session_manager.server", run=lambda h, p, **kw: calls.append((h, p, kw))
    )
    monkeypatch.setenv("KATO_PORT", "9123")  # read by run(), with every other setting
    assert runner.invoke(app, ["up", "--host", "0.0.0.0"]).exit_code == 0
    assert calls == [("0.0.0.0", None, {"router": None, "api_port": None})]
    flags = ["up", "--router", "haproxy", "--port", "9000", "--api-port", "9100"]
    assert runner.invoke(app, flags).exit_code == 0
    assert calls[-1] == (None, 9000, {"router": "haproxy", "api_port": 9100})


@pytest.mark.parametrize(
    "command",
    ["build", "spawn", "kill", "ls", "logs", "prune", "down", "up", "deploy", "undeploy"],
)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_up_help_names_its_env_vars() -> None:
    text = runner.invoke(app, ["up", "--help"], terminal_width=200).stdout
    assert "KATO_HOST" in text and "KATO_PORT" in text


def test_format_age() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert format_age("2026-01-01T11:59:30Z", now) == "30s"
    assert format_age("2026-01-01T09:00:00Z", now) == "3h"
    assert format_age("garbage", now) == "?"


def test_help_names_the_backend_setting() -> None:
    text = runner.invoke(app, ["--help"], terminal_width=200).stdout
    assert "KATO_BACKEND" in text and "swarm" in text
