"""katoctl's option defaults are the services' own: read from their settings classes, so a flag
cannot drift from the default the service documents, and `--help` still prints it.

Read from the field declarations, not from an instance: Typer reads each option's environment
variable itself, and an instance would fold the environment into what `--help` calls a default.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic_settings import BaseSettings

from container_manager.settings import ContainerSettings
from session_manager.settings import ManagerSettings

__all__ = ["BACKEND", "MANAGER_HOST", "MANAGER_PORT", "MANAGER_URL"]


def _default_of(settings: type[BaseSettings], field: str) -> Any:
    """The declared default of `settings.field` (a default factory is called)."""
    return settings.model_fields[field].get_default(call_default_factory=True)


BACKEND: str = _default_of(ContainerSettings, "backend")
MANAGER_HOST: str = _default_of(ManagerSettings, "host")
MANAGER_PORT: int = _default_of(ManagerSettings, "port")
#: Where `katoctl up` serves by default, so where export/import/fork look by default.
MANAGER_URL = str(httpx.URL(scheme="http", host=MANAGER_HOST, port=MANAGER_PORT))
