"""Every error code the code base can answer with is in docs/api.md's table of codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from container_manager.settings import ContainerSettings
from kato.services.settings import ServiceSettings
from session_manager.settings import ManagerSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kato", "session_manager", "container_manager", "cli")
#: `KATO_…` strings that are not codes: variables read outside the settings classes, and the
#: prefix of the processor's metric names.
NOT_CODES = {
    "KATO_BASE_IMAGE",
    "KATO_DOCKER_GID",
    "KATO_MANAGER_PORT",
    "KATO_MANAGER_URL",
    "KATO_HTTP_",
    "KATO_TEST_PROCESSOR_PORT",
    "KATO_RATE_LIMIT_",
}


def _kato_strings() -> set[str]:
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                value = node.value if isinstance(node, ast.Constant) else None
                if isinstance(value, str) and re.fullmatch(r"KATO_[A-Z0-9_]+", value):
                    found.add(value)
    return found


def _variables() -> set[str]:
    names = set()
    for settings in (ManagerSettings, ContainerSettings, ServiceSettings):
        prefix = str(settings.model_config.get("env_prefix", ""))
        for name, field in settings.model_fields.items():
            names.add((prefix + name).upper())
            aliases = (field.alias, field.validation_alias)
            names.update(a.upper() for a in aliases if isinstance(a, str))
    return names


def _documented() -> set[str]:
    """The codes in the first column of docs/api.md's table."""
    table = (ROOT / "docs" / "api.md").read_text().partition("## Every error code")[2]
    firsts = [row.split("|")[1] for row in table.splitlines() if row.startswith("| `KATO")]
    return {code for cell in firsts for code in re.findall(r"`(KATO_[A-Z0-9_]+)`", cell)}


def test_every_code_is_documented() -> None:
    codes = _kato_strings() - _variables() - NOT_CODES
    assert len(codes) > 30  # the scan finds them
    assert sorted(codes - _documented()) == []


def test_the_table_names_no_code_that_does_not_exist() -> None:
    named_by_the_seed_only = {"KATO_CIRCUIT_OPEN"}  # the table says it is not produced
    assert sorted(_documented() - _kato_strings() - named_by_the_seed_only) == []
