"""kato.web.settings_errors: a bad setting as one line naming its variable, exit status 2."""

from __future__ import annotations

import pytest
from pydantic import AliasChoices, BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from container_manager import ContainerSettings
from kato.services.settings import ServiceSettings
from kato.web.settings_errors import (
    EXIT_BAD_SETTINGS,
    BadSettings,
    describe,
    exit_on_bad_settings,
    read_settings,
)
from session_manager.settings import ManagerSettings


class Prefixed(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", populate_by_name=True)

    attempts: int = Field(default=15, ge=1, le=100)
    wait: float = Field(default=1.0, gt=0)
    level: str = Field(default="INFO", validation_alias="DEMO_LOG")
    flag: bool = Field(default=True, validation_alias=AliasChoices("DEMO_FLAG", "DEMO_FLAG_OLD"))
    name: str = Field(default="x", max_length=8, pattern="^[a-z]+$")
    api_secret: str | None = Field(default=None, min_length=16)
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Prefixed:
        if self.level == "NONE":
            raise ValueError("DEMO_LOG=NONE needs DEMO_FLAG=false")
        return self


def _line(monkeypatch: pytest.MonkeyPatch, settings: type[BaseSettings], **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, SettingsError)) as failure:
        settings()
    return describe(failure.value, settings)


def test_the_issue_example(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _line(monkeypatch, ManagerSettings, KATO_WEBHOOK_MAX_ATTEMPTS="1000")
    assert line == "KATO_WEBHOOK_MAX_ATTEMPTS=1000 is invalid: must be at most 100 (allowed 1..100)"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEMO_ATTEMPTS": "0"}, "DEMO_ATTEMPTS=0 is invalid: must be at least 1 (allowed 1..100)"),
        ({"DEMO_ATTEMPTS": "x"}, "DEMO_ATTEMPTS=x is invalid: not an integer (allowed 1..100)"),
        ({"DEMO_WAIT": "0"}, "DEMO_WAIT=0 is invalid: must be greater than 0 (allowed > 0)"),
        ({"DEMO_WAIT": "soon"}, "DEMO_WAIT=soon is invalid: not a number (allowed > 0)"),
        ({"DEMO_FLAG": "maybe"}, "DEMO_FLAG=maybe is invalid: not a boolean"),
        ({"DEMO_FLAG_OLD": "maybe"}, "DEMO_FLAG_OLD=maybe is invalid: not a boolean"),
        ({"DEMO_NAME": "ABC"}, "DEMO_NAME=ABC is invalid: must match ^[a-z]+$"),
        ({"DEMO_LOG": "NONE"}, "DEMO_LOG=NONE needs DEMO_FLAG=false"),
        ({"DEMO_LABELS": "{nope"}, "DEMO_LABELS={nope is invalid: not valid JSON"),
        ({"DEMO_LABELS": '{"a": 1}'}, 'DEMO_LABELS={"a": 1} is invalid: input should be'),
    ],
)
def test_each_problem_names_the_variable_the_value_and_the_bounds(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    assert _line(monkeypatch, Prefixed, **env).startswith(expected)


def test_several_problems_stay_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _line(monkeypatch, Prefixed, DEMO_ATTEMPTS="0", DEMO_WAIT="0", DEMO_NAME="x\ny")
    assert "\n" not in line
    assert line.count("; ") == 2 and "DEMO_NAME='x\\ny'" in line


def test_secrets_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _line(monkeypatch, Prefixed, DEMO_API_SECRET="short-secret")
    assert line.startswith("DEMO_API_SECRET=<hidden> is invalid: must be at least 16 characters")
    assert "short-secret" not in line


def test_long_values_are_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    line = _line(monkeypatch, Prefixed, DEMO_NAME="x" * 500)
    assert "x" * 77 + "..." in line and "x" * 78 not in line


def test_the_services_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bare names (PERSISTENCE), prefixed ones (KATO_USE_INDEXING), renamed ones
    (KATO_CONTAINER_PREFIX for name_prefix) and a missing required variable."""
    monkeypatch.delenv("PROCESSOR_ID", raising=False)
    assert _line(monkeypatch, ServiceSettings) == "PROCESSOR_ID is required but unset"
    line = _line(monkeypatch, ServiceSettings, PROCESSOR_ID="p", PERSISTENCE="0", PORT="x")
    assert line.startswith("PERSISTENCE=0 is invalid: must be at least 1 (allowed 1..")
    assert line.endswith("PORT=x is invalid: not an integer")
    line = _line(monkeypatch, ContainerSettings, KATO_LOG_MAX_FILES="0")
    assert line == "KATO_LOG_MAX_FILES=0 is invalid: must be at least 1 (allowed 1..100)"


def test_read_settings_prints_the_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEMO_ATTEMPTS", "1000")
    with pytest.raises(BadSettings) as failure:
        read_settings(Prefixed, "demo")
    assert failure.value.code == EXIT_BAD_SETTINGS == 2
    line = "demo: DEMO_ATTEMPTS=1000 is invalid: must be at most 100 (allowed 1..100)"
    assert str(failure.value) == line
    assert capsys.readouterr().err == line + "\n"


def test_read_settings_takes_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_ATTEMPTS", "1000")
    assert read_settings(Prefixed, "demo", attempts=3).attempts == 3


def test_the_block_stops_only_for_the_named_settings(capsys: pytest.CaptureFixture[str]) -> None:
    class Body(BaseModel):
        count: int

    with pytest.raises(ValidationError), exit_on_bad_settings("demo", Prefixed):
        Body.model_validate({"count": "x"})
    with pytest.raises(BadSettings), exit_on_bad_settings("demo", ManagerSettings, Prefixed):
        Prefixed(attempts=0)
    assert capsys.readouterr().err.startswith("demo: DEMO_ATTEMPTS=0 is invalid")
