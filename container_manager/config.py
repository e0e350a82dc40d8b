"""Validation of a processor's config (genes and limits) and its translation into a spec.

The config arrives from the sessions API as a plain mapping; it is validated here once, so a
typo such as `max_patern_length` fails loudly instead of silently running with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kato import contract
from kato.contract import ENV_SORT_ALIAS, GENE_ENV

from .errors import ConfigValidationError
from .models import Limits
from .settings import ContainerSettings

__all__ = [
    "CPU_LIMIT_MAX",
    "PROCESSOR_NAME_MAX_LENGTH",
    "LaunchConfig",
    "parse_config",
    "validate_processor_id",
]

_MEMORY = r"^[0-9]+[bkmgBKMG]?$"
PROCESSOR_NAME_MAX_LENGTH = 200
CPU_LIMIT_MAX = 64.0


def _gene(bounds: contract.IntRange | contract.FloatRange) -> Any:
    """An optional gene within the processor's own range (so it cannot refuse it at start-up)."""
    return Field(None, ge=bounds.low, le=bounds.high)


class LaunchConfig(BaseModel):
    """What one launch asks for: gene overrides (None = the service's default) and resource
    limits. Not the engine's start-up `kato.processor.ProcessorConfig`: that one is built by the
    service inside the container from the environment `gene_env` produces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_pattern_length: int | None = _gene(contract.MAX_PATTERN_LENGTH_RANGE)
    persistence: int | None = _gene(contract.PERSISTENCE_RANGE)
    recall_threshold: float | None = _gene(contract.RECALL_THRESHOLD_RANGE)
    max_predictions: int | None = _gene(contract.MAX_PREDICTIONS_RANGE)
    sort: bool | None = None
    use_indexing: bool | None = None
    processor_name: str | None = Field(None, min_length=1, max_length=PROCESSOR_NAME_MAX_LENGTH)
    memory_limit: str | None = Field(None, pattern=_MEMORY)
    cpu_limit: float | None = Field(None, gt=0.0, le=CPU_LIMIT_MAX)
    pids_limit: int | None = Field(None, gt=0)

    def gene_env(self) -> dict[str, str]:
        """Environment variables for the genes that were set (``sort`` under both its names)."""
        env: dict[str, str] = {}
        for name, var in GENE_ENV.items():
            value = getattr(self, name)
            if value is None:
                continue
            env[var] = str(value).lower() if isinstance(value, bool) else str(value)
        if GENE_ENV["sort"] in env:
            env[ENV_SORT_ALIAS] = env[GENE_ENV["sort"]]
        return env

    def limits(self, settings: ContainerSettings) -> Limits:
        """These limits, falling back to the settings' defaults."""
        return Limits(
            memory=self.memory_limit or settings.memory_limit,
            cpu=self.cpu_limit if self.cpu_limit is not None else settings.cpu_limit,
            pids=self.pids_limit if self.pids_limit is not None else settings.pids_limit,
        )


def parse_config(config: Mapping[str, Any] | None) -> LaunchConfig:
    """Validate a config mapping; raise `ConfigValidationError` listing every problem."""
    try:
        return LaunchConfig.model_validate(dict(config or {}))
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        raise ConfigValidationError("invalid processor config", {"errors": errors}) from None


def validate_processor_id(processor_id: str) -> str:
    """Processor ids end up in container, volume and service names and in the processor's own
    ``PROCESSOR_ID``, so they follow the contract's platform rule (a subset of the processor's)."""
    if not contract.is_platform_processor_id(processor_id):
        raise ConfigValidationError(
            f"invalid processor id: use {contract.PLATFORM_PROCESSOR_ID_RULE}",
            {"processor_id": processor_id},
        )
    return processor_id
