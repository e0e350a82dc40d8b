"""Configuration of the container manager, read once from the environment (prefix `KATO_`)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kato.contract import OTEL_PROCESSOR_ENV

__all__ = ["ContainerSettings"]


def _otel_from_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in OTEL_PROCESSOR_ENV if os.environ.get(name)}


class ContainerSettings(BaseSettings):
    """How processor containers are made. Each field names its environment variable."""

    model_config = SettingsConfigDict(env_prefix="KATO_", extra="ignore", populate_by_name=True)

    backend: str = Field(
        default="docker",
        description=(
            "KATO_BACKEND: the engine processors run on: docker (this host's engine) or swarm "
            "(services on a Docker Swarm; run on a manager node), or any backend another "
            "package registers in the kato.backends entry-point group."
        ),
    )
    image: str = Field(
        default="kato:fastapi",
        description="KATO_IMAGE: image every processor container runs.",
    )
    network: str | None = Field(
        default=None,
        description=(
            "KATO_NETWORK: when set, containers join this Docker network, publish no port and "
            "are reached as http://<container name>:8000 (the caller must be on that network)."
        ),
    )
    memory_limit: str = Field(
        default="512m",
        description="KATO_MEMORY_LIMIT: default memory limit (Docker syntax, e.g. 512m).",
    )
    cpu_limit: float = Field(
        default=1.0, gt=0, description="KATO_CPU_LIMIT: default CPUs per container."
    )
    pids_limit: int = Field(
        default=256, gt=0, description="KATO_PIDS_LIMIT: default max processes per container."
    )
    ready_timeout: float = Field(
        default=30.0,
        gt=0,
        description="KATO_READY_TIMEOUT: seconds to wait for GET /health to answer.",
    )
    state_dir: Path = Field(
        default=Path("./state"),
        description=(
            "KATO_STATE_DIR: the manager's state: deployment id, token key and orphans.sqlite3 "
            "(when each unclaimed data volume was first seen)."
        ),
    )
    name_prefix: str = Field(
        default="kato-proc",
        validation_alias="KATO_CONTAINER_PREFIX",
        description="KATO_CONTAINER_PREFIX: container names are <prefix>-<processor id>.",
    )
    extra_labels: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "KATO_EXTRA_LABELS (JSON object): labels added to every container and volume; "
            "the manager also only lists/prunes containers carrying them (tests tag theirs)."
        ),
    )
    deployment: str | None = Field(
        default=None,
        max_length=63,
        description=(
            "KATO_DEPLOYMENT: this manager's identity, set as label kato.deployment on every "
            "container and volume it makes; it lists, prunes and removes nothing else. Unset: "
            "an id made once and kept in <KATO_STATE_DIR>/deployment."
        ),
    )
    orphan_grace: float = Field(
        default=86400.0,
        ge=0,
        le=10 * 365 * 86400,
        description=(
            "KATO_ORPHAN_GRACE (86400 s): an orphan's container is removed at once, its data "
            "volume only when it has been unclaimed this long (a mistake stays recoverable)."
        ),
    )
    log_max_size: str = Field(
        default="10m",
        pattern=r"^[1-9][0-9]{0,5}[kmg]$",
        description="KATO_LOG_MAX_SIZE (10m): size of one container log file before rotation.",
    )
    log_max_files: int = Field(
        default=3,
        ge=1,
        le=100,
        description="KATO_LOG_MAX_FILES (3): rotated log files kept per container.",
    )
    otel_env: dict[str, str] = Field(
        default_factory=_otel_from_environment,
        description=(
            "OTEL_* (unset): the OpenTelemetry variables of kato.contract.OTEL_PROCESSOR_ENV "
            "found in the manager's environment, passed to every processor it starts, so "
            "processors export their spans where the manager does (the endpoint must be "
            "reachable from the containers' network)."
        ),
    )

    @field_validator("otel_env")
    @classmethod
    def _only_otel_names(cls, value: dict[str, str]) -> dict[str, str]:
        """Nothing but the passed OpenTelemetry names: no other variable reaches a container
        this way (``LD_PRELOAD``, ``PYTHONPATH``, the processor's own)."""
        unknown = sorted(set(value) - set(OTEL_PROCESSOR_ENV))
        if unknown:
            raise ValueError(f"not an OpenTelemetry variable passed to processors: {unknown}")
        return value
