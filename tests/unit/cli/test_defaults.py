"""katoctl's defaults are the services' own: what `katoctl up` serves on without flags is what
the session manager listens on without configuration, and `--help` says so."""

from __future__ import annotations

import re

import httpx
import pytest
from typer.testing import CliRunner

import session_manager.server
from cli.main import app
from container_manager.settings import ContainerSettings
from session_manager.settings import ManagerSettings

runner = CliRunner()


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, int | None]]:
    """No KATO_HOST/KATO_PORT/KATO_BACKEND in the environment; `up` records instead of serving."""
    for name in ("KATO_HOST", "KATO_PORT", "KATO_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    served: list[tuple[str | None, int | None]] = []
    monkeypatch.setattr(
        session_manager.server,
        "run",
        lambda host, port, **flags: served.append((host, port, *flags.values())),
    )
    return served


def _defaults_in_help(*command: str) -> list[str]:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return re.findall(r"\[default: ([^\]\s]+)\]", result.output)


def test_up_leaves_host_and_port_to_the_manager_settings(
    unconfigured: list[tuple[str | None, int | None]],
) -> None:
    """No copy of the defaults to drift: unset flags are None, and `run` reads KATO_HOST and
    KATO_PORT (checked there with every other setting)."""
    result = runner.invoke(app, ["up"])
    assert result.exit_code == 0, result.output
    assert unconfigured == [(None, None, None, None)]  # host, port, router, api port


def test_up_help_shows_the_settings_defaults(
    unconfigured: list[tuple[str | None, int | None]],
) -> None:
    result = runner.invoke(app, ["up", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())
    settings = ManagerSettings()
    assert f"env KATO_HOST, else {settings.host}" in text
    assert f"env KATO_PORT, else {settings.port}" in text


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The real `run`, with the app factory and uvicorn replaced: what it would serve on."""
    calls: dict[str, object] = {}
    monkeypatch.setattr(session_manager.server, "create_app", lambda *args: object())
    monkeypatch.setattr(session_manager.server, "configure_logging", lambda level: None)
    monkeypatch.setattr(session_manager.server.uvicorn, "run", lambda app, **kw: calls.update(kw))
    return calls


def test_up_environment_still_wins(
    served: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KATO_HOST", raising=False)
    monkeypatch.setenv("KATO_PORT", "9001")
    result = runner.invoke(app, ["up"])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == (ManagerSettings().host, 9001)


def test_up_flags_win_over_the_environment(
    served: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KATO_PORT", "9001")
    result = runner.invoke(app, ["up", "--host", "0.0.0.0", "--port", "9002"])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("0.0.0.0", 9002)


def test_up_checks_a_flag_as_its_setting(served: dict[str, object]) -> None:
    result = runner.invoke(app, ["up", "--port", "70000"])
    assert result.exit_code == 2
    assert "KATO_PORT=70000 is invalid: must be at most 65535" in result.stderr
    assert served == {}


@pytest.mark.parametrize("command", ["export", "import", "fork"])
def test_manager_url_default_is_where_up_serves(
    command: str, unconfigured: list[tuple[str | None, int | None]]
) -> None:
    urls = [d for d in _defaults_in_help(command) if "://" in d]
    assert len(urls) == 1, urls
    url = httpx.URL(urls[0])
    settings = ManagerSettings()
    assert (url.scheme, url.host, url.port) == ("http", settings.host, settings.port)


def test_help_names_the_default_backend(
    unconfigured: list[tuple[str | None, int | None]],
) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert f"default {ContainerSettings().backend};" in " ".join(result.output.split())


def test_build_tags_the_image_processors_run_by_default(
    unconfigured: list[tuple[str | None, int | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KATO_IMAGE", raising=False)
    assert _defaults_in_help("build")[0] == ContainerSettings().image
