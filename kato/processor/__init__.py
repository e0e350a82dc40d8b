"""The KATO processor engine: pure, deterministic, no I/O except through its store.

Public names are listed in ``__all__``; everything else is internal.
"""

from kato.processor.config import ProcessorConfig
from kato.processor.errors import (
    GeneNotFoundError,
    InvalidGeneValueError,
    InvalidStateError,
    KatoError,
    PatternNotFoundError,
    StorageError,
    UnknownGeneError,
    ValidationError,
)
from kato.processor.observation import Observation, ObserveResult
from kato.processor.processor import KatoProcessor
from kato.processor.store.base import PatternStore
from kato.processor.store.factory import open_store

__all__ = [
    "GeneNotFoundError",
    "InvalidGeneValueError",
    "InvalidStateError",
    "KatoError",
    "KatoProcessor",
    "Observation",
    "ObserveResult",
    "PatternNotFoundError",
    "PatternStore",
    "ProcessorConfig",
    "StorageError",
    "UnknownGeneError",
    "ValidationError",
    "open_store",
]
