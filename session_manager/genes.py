"""The genes a client may ask for at create, bounded at the manager's edge.

`SessionGenes` narrows the container manager's `LaunchConfig` (same fields, one definition; its
gene ranges are the processor's own, from `kato.contract`) to values the engine accepts too:
finite floats, short printable strings, limits within 64 bits. Resource limits are the
operator's: `check_limits` lets a client ask for less than the manager's `KATO_MEMORY_LIMIT` /
`KATO_CPU_LIMIT` / `KATO_PIDS_LIMIT` (or nothing: the operator's values apply), never more, and
never less than a processor needs to start (below the floors the engine refuses or the service
never gets ready, which used to surface as a 502 carrying runc and cgroup details).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from container_manager import ContainerSettings
from container_manager.config import CPU_LIMIT_MAX, PROCESSOR_NAME_MAX_LENGTH, LaunchConfig
from container_manager.models import memory_bytes

from .errors import ValidationFailedError
from .number_pattern import integer_range_pattern

__all__ = [
    "FLOORS",
    "INT64_MAX",
    "PRINTABLE",
    "SessionGenes",
    "check_limits",
    "document_limits",
]

INT64_MAX = 2**63 - 1

_MEMORY = r"^[0-9]{1,13}[bkmgBKMG]?$"  # with max_length=13: 13 digits, or 12 and a unit
#: Printable text without control characters (NUL in an env var makes the engine refuse).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"

#: The least a processor container needs to start (an idle one uses ~40 MiB and 5 processes;
#: below a quarter CPU its start-up nears the readiness timeout).
FLOORS = {"memory_limit": 64 * 2**20, "cpu_limit": 0.25, "pids_limit": 32}


class SessionGenes(LaunchConfig):
    """Genes of `POST /session/create`; None (or absent) keeps the service's default."""

    # Strict: the schema says integer, number, boolean; "5", 0.0 or "true" are refused, not cast.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    processor_name: str | None = Field(
        None, min_length=1, max_length=PROCESSOR_NAME_MAX_LENGTH, pattern=PRINTABLE
    )
    memory_limit: str | None = Field(
        None,
        max_length=13,
        pattern=_MEMORY,
        description="Docker syntax (e.g. 256m); at most the operator's KATO_MEMORY_LIMIT, "
        "at least 64m.",
    )
    cpu_limit: float | None = Field(
        None, ge=FLOORS["cpu_limit"], le=CPU_LIMIT_MAX, description="At most KATO_CPU_LIMIT."
    )
    pids_limit: int | None = Field(
        None, ge=FLOORS["pids_limit"], le=INT64_MAX, description="At most KATO_PIDS_LIMIT."
    )

    @field_validator(
        "max_pattern_length", "persistence", "max_predictions", "pids_limit", mode="before"
    )
    @classmethod
    def _integral(cls, value: Any) -> Any:
        """5.0 is an integer in JSON (and in the schema); strict mode would refuse it."""
        return int(value) if isinstance(value, float) and value.is_integer() else value

    def as_config(self) -> dict[str, Any]:
        """The genes the client set, as the mapping the container manager validates again."""
        return self.model_dump(exclude_none=True)


def check_limits(genes: SessionGenes, operator: ContainerSettings) -> None:
    """Refuse (422) limits above the operator's ceilings or below a processor's floor."""
    errors: list[dict[str, Any]] = []
    if genes.memory_limit is not None:
        asked, ceiling = memory_bytes(genes.memory_limit), memory_bytes(operator.memory_limit)
        if not FLOORS["memory_limit"] <= asked <= ceiling:
            errors.append(_out_of_range("memory_limit", "64m", operator.memory_limit))
    if genes.cpu_limit is not None and genes.cpu_limit > operator.cpu_limit:
        errors.append(_out_of_range("cpu_limit", FLOORS["cpu_limit"], operator.cpu_limit))
    if genes.pids_limit is not None and genes.pids_limit > operator.pids_limit:
        errors.append(_out_of_range("pids_limit", FLOORS["pids_limit"], operator.pids_limit))
    if errors:
        raise ValidationFailedError(
            "resource limits outside the operator's range", {"errors": errors}
        )


def _out_of_range(field: str, floor: object, ceiling: object) -> dict[str, Any]:
    return {
        "loc": ["body", "genes", field],
        "msg": f"must be between {floor} and {ceiling} (the operator's limit)",
        "type": "limit_out_of_range",
    }


def document_limits(schema: dict[str, Any], operator: ContainerSettings) -> None:
    """State this deployment's resource ceilings (`check_limits`) in the OpenAPI `schema`, so
    the document says exactly which limits a create accepts: `cpu_limit` and `pids_limit` at
    most the operator's, `memory_limit` a pattern of the sizes from 64m to the operator's."""
    genes = schema["components"]["schemas"]["SessionGenes"]["properties"]
    _bounded(genes["cpu_limit"])["maximum"] = operator.cpu_limit
    _bounded(genes["pids_limit"])["maximum"] = operator.pids_limit
    low, high = int(FLOORS["memory_limit"]), memory_bytes(operator.memory_limit)
    sizes = [
        f"{integer_range_pattern(-(-low // size), high // size)}{units}"
        for units, size in (("", 1), ("[bB]", 1), ("[kK]", 2**10), ("[mM]", 2**20),
                            ("[gG]", 2**30))
    ]
    _bounded(genes["memory_limit"])["pattern"] = f"^0*(?:{'|'.join(sizes)})$"


def _bounded(field: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field's schema."""
    (value,) = [branch for branch in field["anyOf"] if branch.get("type") != "null"]
    return value
