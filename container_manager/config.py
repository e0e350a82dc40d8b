"""Validation of a processor's config (genes and limits) and its translation into a spec.

The config arrives from the sessions API as a plain mapping; it is validated here once, so a
typo such as `max_patern_length` fails loudly instead of silently running with defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigValidationError
from .models import Limits
from .settings import ContainerSettings

__all__ = ["ProcessorConfig", "parse_config", "validate_processor_id"]

_MEMORY = r"^[0-9]+[bkmgBKMG]?$"
_PROCESSOR_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")

#: Gene field → environment variable read by the processor service.
GENE_ENV = {
    "max_pattern_length": "MAX_PATTERN_LENGTH",
    "persistence": "PERSISTENCE",
    "recall_threshold": "RECALL_THRESHOLD",
    "max_predictions": "MAX_PREDICTIONS",
    "sort": "SORT",  # the service reads SORT; SORT_SYMBOLS is the upstream name, set below
    "use_indexing": "KATO_USE_INDEXING",
    "processor_name": "PROCESSOR_NAME",
}


class ProcessorConfig(BaseModel):
    """Genes (None = the service's default) and per-processor resource limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_pattern_length: int | None = Field(None, ge=0)
    persistence: int | None = Field(None, ge=1, le=100)
    recall_threshold: float | None = Field(None, ge=0.0, le=1.0)
    max_predictions: int | None = Field(None, ge=1, le=10000)
    sort: bool | None = None
    use_indexing: bool | None = None
    processor_name: str | None = Field(None, min_length=1, max_length=200)
    memory_limit: str | None = Field(None, pattern=_MEMORY)
    cpu_limit: float | None = Field(None, gt=0.0, le=64.0)
    pids_limit: int | None = Field(None, gt=0)

    def gene_env(self) -> dict[str, str]:
        """Environment variables for the genes that were set."""
        env: dict[str, str] = {}
        for name, var in GENE_ENV.items():
            value = getattr(self, name)
            if value is None:
                continue
            env[var] = str(value).lower() if isinstance(value, bool) else str(value)
        if "SORT" in env:
            env["SORT_SYMBOLS"] = env["SORT"]
        return env

    def limits(self, settings: ContainerSettings) -> Limits:
        """These limits, falling back to the settings' defaults."""
        return Limits(
            memory=self.memory_limit or settings.memory_limit,
            cpu=self.cpu_limit if self.cpu_limit is not None else settings.cpu_limit,
            pids=self.pids_limit if self.pids_limit is not None else settings.pids_limit,
        )


def parse_config(config: Mapping[str, Any] | None) -> ProcessorConfig:
    """Validate a config mapping; raise `ConfigValidationError` listing every problem."""
    try:
        return ProcessorConfig.model_validate(dict(config or {}))
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        raise ConfigValidationError("invalid processor config", {"errors": errors}) from None


def validate_processor_id(processor_id: str) -> str:
    """Processor ids end up in container and volume names, so they must be name-safe."""
    if not _PROCESSOR_ID.match(processor_id):
        raise ConfigValidationError(
            "invalid processor id: use 1-63 of a-z 0-9 _ . - starting with a letter or digit",
            {"processor_id": processor_id},
        )
    return processor_id
