"""The explicit gene table (spec §6; QUIRK-8 fix): typed, range-checked, whitelisted.

Every documented gene is accepted by :func:`validate_updates`; genes without behavioural effect
upstream (``smoothness``, ``quiescence``, …) are stored and reported but change nothing.
``persistence`` is reported as updated but, as upstream (QUIRK-7), the emotive window keeps the
start-up size. ``SORT`` is upstream's internal alias of ``sort``; ``predict`` switches prediction
generation off. Validation of a whole update happens before anything is applied.

Every gene has a range (in :mod:`kato.contract`, and in kato/services/README.md): a value
outside it is refused before it reaches the processor, so every accepted value serialises
exactly (JSON, SQLite, MongoDB) and every read of the genes (``GET /state``, ``GET /gene``) keeps
working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kato import contract
from kato.processor.config import ProcessorConfig
from kato.processor.errors import InvalidGeneValueError, UnknownGeneError

Check = Callable[[Any], Any]


def _int(low: int, high: int) -> tuple[Check, dict[str, Any]]:
    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 5.0 is an integer in JSON (and its schema), as upstream took it
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check, {"type": "integer", "minimum": low, "maximum": high}


def _float(low: float, high: float) -> tuple[Check, dict[str, Any]]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return float(value)

    return check, {"type": "number", "minimum": low, "maximum": high}


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be a boolean")
    return value


_bool: tuple[Check, dict[str, Any]] = (_check_bool, {"type": "boolean"})


def _choice(*allowed: str) -> tuple[Check, dict[str, Any]]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return str(value)

    return check, {"enum": list(allowed)}


@dataclass(frozen=True)
class Gene:
    """One updatable gene: its canonical key in the gene values, its validator and the JSON
    schema of exactly the values the validator accepts (for the API's documentation)."""

    key: str
    check: Check
    schema: Mapping[str, Any]

    @classmethod
    def of(cls, key: str, rule: tuple[Check, dict[str, Any]]) -> Gene:
        return cls(key, *rule)


GENES: Mapping[str, Gene] = {
    "max_pattern_length": Gene.of("max_pattern_length", _int(*contract.MAX_PATTERN_LENGTH_RANGE)),
    "persistence": Gene.of("persistence", _int(*contract.PERSISTENCE_RANGE)),
    "recall_threshold": Gene.of("recall_threshold", _float(*contract.RECALL_THRESHOLD_RANGE)),
    "max_predictions": Gene.of("max_predictions", _int(*contract.MAX_PREDICTIONS_RANGE)),
    "sort": Gene.of("sort", _bool),
    "SORT": Gene.of("sort", _bool),
    "smoothness": Gene.of("smoothness", _int(*contract.SMOOTHNESS_RANGE)),
    "quiescence": Gene.of("quiescence", _int(*contract.QUIESCENCE_RANGE)),
    "search_depth": Gene.of("search_depth", _int(*contract.SEARCH_DEPTH_RANGE)),
    "auto_act_method": Gene.of("auto_act_method", _choice(*contract.AUTO_ACT_METHODS)),
    "auto_act_threshold": Gene.of("auto_act_threshold", _float(*contract.AUTO_ACT_THRESHOLD_RANGE)),
    "always_update_frequencies": Gene.of("always_update_frequencies", _bool),
    "process_predictions": Gene.of("process_predictions", _bool),
    "indexer_type": Gene.of("indexer_type", _choice(*contract.INDEXER_TYPES)),
    "predict": Gene.of("predict", _bool),
}

#: Keys of the runtime gene values (``SORT`` is stored as ``sort``).
GENE_KEYS = frozenset(gene.key for gene in GENES.values())

def updates_schema() -> dict[str, Any]:
    """The JSON schema of an update :func:`validate_updates` accepts: known names only, each
    value within its gene's type and range."""
    return {
        "type": "object",
        "properties": {name: dict(gene.schema) for name, gene in GENES.items()},
        "additionalProperties": False,
    }


#: Names ``get_gene`` answers but ``update_genes`` refuses.
READ_ONLY = frozenset({"id", "kb_id", "name", "time"})


def initial_values(config: ProcessorConfig) -> dict[str, Any]:
    """Runtime gene values at start-up, validated like any update."""
    values = {
        gene.key: getattr(config, gene.key) for gene in GENES.values() if gene.key != "predict"
    }
    values["predict"] = True
    return validate_updates(values)


def validate_updates(updates: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical ``{key: value}`` for every entry, or the error of the first bad one."""
    result: dict[str, Any] = {}
    for name, value in updates.items():
        gene = GENES.get(name)
        if gene is None:
            if name in READ_ONLY:
                raise InvalidGeneValueError(f"Gene {name} is read-only", {"gene": name})
            raise UnknownGeneError(name)
        try:
            result[gene.key] = gene.check(value)
        except ValueError as error:
            raise InvalidGeneValueError(
                f"Invalid value for gene {name}: {error}", {"gene": name, "value": repr(value)}
            ) from None
    return result
