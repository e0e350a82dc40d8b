"""The storage seam of the processor: records and the one interface every backend implements.

The processor keeps everything it searches in memory and is the only writer. A store therefore
needs just four operations: hand back everything at start-up (:meth:`PatternStore.load`), persist
the outcome of one learn atomically (:meth:`PatternStore.save_learn`), forget everything
(:meth:`PatternStore.clear`) and release resources (:meth:`PatternStore.close`). ``save_learn``
receives absolute values (the new pattern record, the new symbol records, the new totals), so a
retried write is idempotent and the processor can compute the next state before touching memory.
Every failure is raised as :class:`~kato.processor.errors.StorageError`.

Short-term state (STM, runtime genes, emotives, ``time``, the last predictions and the prediction
log) is persisted too, so a crashed process resumes where it stopped:
:meth:`PatternStore.save_state` applies one :class:`StateWrite` (opaque named blobs plus
prediction-log entries, encoded by :mod:`kato.processor.durable`), ``save_learn`` and ``clear``
take the state change of the same request so that a learn and the STM it empties commit together,
and :meth:`PatternStore.load_state` hands it back at start-up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PatternRecord:
    """One distinct pattern (spec §4.1). ``name`` is the bare sha1 (no ``PTRN|``).

    ``emotives`` is the rolling window of per-learn emotive means; an empty list is upstream's
    stored ``{}`` (a pattern never learned with emotives) and is reported as ``{}``. Treat the
    lists as immutable: records are shared between the store, the index and snapshots.
    """

    name: str
    pattern_data: list[list[str]]
    length: int
    frequency: int
    emotives: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class SymbolRecord:
    """Statistics of one symbol ever learned (spec §4.3)."""

    name: str
    frequency: int
    pattern_member_frequency: int
    emotives: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    """The three global counters (spec §4.4)."""

    total_pattern_frequencies: int = 0
    total_symbol_frequencies: int = 0
    total_symbols_in_patterns_frequencies: int = 0


@dataclass(frozen=True)
class StoreSnapshot:
    """Everything a store holds, as loaded at start-up."""

    patterns: list[PatternRecord]
    symbols: list[SymbolRecord]
    totals: Totals


@dataclass(frozen=True)
class StateWrite:
    """One change of the persisted short-term state, applied all or nothing.

    ``reset`` first drops every part and log entry; then ``parts`` replace the named blobs,
    ``log_remove`` drops log entries by id and ``log_append`` adds entries after all others
    (their ids are not in the log yet).
    """

    parts: Mapping[str, bytes] = field(default_factory=dict)
    log_append: Sequence[tuple[str, bytes]] = ()
    log_remove: Sequence[str] = ()
    reset: bool = False


@dataclass(frozen=True)
class StoredState:
    """The persisted short-term state: named blobs and the log entries in append order."""

    parts: dict[str, bytes] = field(default_factory=dict)
    log: list[tuple[str, bytes]] = field(default_factory=list)


class PatternStore(ABC):
    """Long-term memory of one processor.

    Implementations: :class:`~kato.processor.store.memory.MemoryStore` (tests),
    :class:`~kato.processor.store.sqlite.SQLiteStore` (default),
    :class:`~kato.processor.store.postgres.PostgresStore` (both on the statements of
    :class:`~kato.processor.store.sql.SQLStore`) and
    :class:`~kato.processor.store.mongo.MongoStore`.
    """

    @abstractmethod
    def load(self) -> StoreSnapshot:
        """Return every pattern, symbol record and the totals (zeros when empty)."""

    @abstractmethod
    def save_learn(
        self,
        pattern: PatternRecord,
        symbols: Sequence[SymbolRecord],
        totals: Totals,
        state: StateWrite | None = None,
    ) -> None:
        """Upsert ``pattern`` and ``symbols``, replace the totals and apply ``state``, all or
        nothing.

        Durable when it returns; on failure nothing is changed and StorageError is raised.
        """

    @abstractmethod
    def replace_all(self, snapshot: StoreSnapshot, state: StateWrite | None = None) -> None:
        """Make the store hold exactly ``snapshot`` (an import) and apply ``state``, all or
        nothing.

        Records are written in the snapshot's order, so a later :meth:`load` returns them in
        that order. Durable when it returns; on failure nothing is changed.
        """

    @abstractmethod
    def clear(self, state: StateWrite | None = None) -> None:
        """Delete every pattern and symbol record, reset the totals to zero and apply ``state``
        (all or nothing)."""

    @abstractmethod
    def load_state(self) -> StoredState:
        """The persisted short-term state (empty when none was saved)."""

    @abstractmethod
    def save_state(self, state: StateWrite) -> None:
        """Apply ``state``, all or nothing. Survives a crash of the process when it returns;
        the SQLite store does not wait for the disk (see its module doc)."""

    @property
    def upkeep_due(self) -> bool:
        """Whether :meth:`upkeep` has work to do (never, unless a store says otherwise)."""
        return False

    def upkeep(self) -> None:
        """Housekeeping the service runs after answering, under the processor lock: it changes
        no stored fact and nothing any read returns, and a failure is the store's to absorb
        (the work is retried later). No-op unless a store has some (SQLite: WAL checkpoints)."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release connections/files. Idempotent."""
