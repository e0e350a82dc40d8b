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
        session_manager.server, "run", lambda host, port: served.append((host, port))
    )
    return served


def _defaults_in_help(*command: str) -> list[str]:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return re.findall(r"\[default: ([^\]\s]+)\]", result.output)


def test_up_serves_where_the_manager_would_by_default(
    unconfigured: list[tuple[str | None, int | None]],
) -> None:
    result = runner.invoke(app, ["up"])
    assert result.exit_code == 0, result.output
    settings = ManagerSettings()
    assert unconfigured == [(settings.host, settings.port)]


def test_up_help_shows_the_settings_defaults(
    unconfigured: list[tuple[str | None, int | None]],
) -> None:
    settings = ManagerSettings()
    assert _defaults_in_help("up") == [settings.host, str(settings.port)]


def test_up_environment_still_wins(
    unconfigured: list[tuple[str | None, int | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KATO_PORT", "9001")
    result = runner.invoke(app, ["up"])
    assert result.exit_code == 0, result.output
    assert unconfigured == [(ManagerSettings().host, 9001)]


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
