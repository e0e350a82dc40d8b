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


def _int(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


def _float(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return float(value)

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be a boolean")
    return value


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return str(value)

    return check


@dataclass(frozen=True)
class Gene:
    """One updatable gene: its canonical key in the gene values and its validator."""

    key: str
    check: Callable[[Any], Any]


GENES: Mapping[str, Gene] = {
    "max_pattern_length": Gene("max_pattern_length", _int(*contract.MAX_PATTERN_LENGTH_RANGE)),
    "persistence": Gene("persistence", _int(*contract.PERSISTENCE_RANGE)),
    "recall_threshold": Gene("recall_threshold", _float(*contract.RECALL_THRESHOLD_RANGE)),
    "max_predictions": Gene("max_predictions", _int(*contract.MAX_PREDICTIONS_RANGE)),
    "sort": Gene("sort", _bool),
    "SORT": Gene("sort", _bool),
    "smoothness": Gene("smoothness", _int(*contract.SMOOTHNESS_RANGE)),
    "quiescence": Gene("quiescence", _int(*contract.QUIESCENCE_RANGE)),
    "search_depth": Gene("search_depth", _int(*contract.SEARCH_DEPTH_RANGE)),
    "auto_act_method": Gene("auto_act_method", _choice(*contract.AUTO_ACT_METHODS)),
    "auto_act_threshold": Gene("auto_act_threshold", _float(*contract.AUTO_ACT_THRESHOLD_RANGE)),
    "always_update_frequencies": Gene("always_update_frequencies", _bool),
    "process_predictions": Gene("process_predictions", _bool),
    "indexer_type": Gene("indexer_type", _choice(*contract.INDEXER_TYPES)),
    "predict": Gene("predict", _bool),
}

#: Keys of the runtime gene values (``SORT`` is stored as ``sort``).
GENE_KEYS = frozenset(gene.key for gene in GENES.values())

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
