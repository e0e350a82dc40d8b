"""The KATO processor engine: pure, deterministic, no I/O except through its store.

Behaviour follows the upstream reference (spec KATO_PROCESSOR.md, 76cdd6c) bit for bit, including
its quirks, except these deliberate fixes (QUIRK numbers of spec §9):

* 2  ties: potential descending, then bare pattern name ascending (also at the cap);
* 6  a stored ``{}`` emotive field is an empty window, so re-learning with emotives works;
* 8  genes are whitelisted, typed and range-checked, updates are atomic, every documented gene
     (``sort`` included) is accepted — see :mod:`kato.processor.genes`;
* 9  ``sort`` is plain configuration (the service maps ``SORT`` and ``SORT_SYMBOLS``);
* 11 every read builds fresh objects and prediction names are always ``PTRN|…``;
* 14 vectors of unequal length are a ValidationError instead of numpy broadcasting;
* 15 ``time`` advances only once an observation validated;
* 18 STM is cleared only after the pattern is stored; any failure leaves the processor unchanged;
* 21 the prediction log keeps the ``prediction_log_size`` most recently logged ids (first record
     of an id wins, as upstream's lookup).

Candidate search uses the reference pre-filter (§5.2) unless
``ProcessorConfig.exhaustive_search`` is set (upstream's ``KATO_USE_INDEXING=false``).
Long-term memory lives in a :class:`PatternStore` (SQLite by default, MongoDB optional); the
search runs entirely on an in-memory index rebuilt from the store at start-up.

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
