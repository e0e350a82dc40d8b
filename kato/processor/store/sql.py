"""What the SQL stores share: the tables, every statement and the rules of the state change.

SQLite and PostgreSQL hold the same five tables (``patterns``, ``symbols``, ``totals``,
``state``, ``state_log``) with records as JSON text in upstream's document shape, so floats and
the key order of emotives round-trip exactly, and both speak ``INSERT … ON CONFLICT … DO
UPDATE``. A subclass brings only what differs: the connection, its transaction (and how a
state-only commit skips the flush), its placeholder, the column that keeps insertion order and
the map of its driver's errors to :class:`~kato.processor.errors.StorageError`.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from kato.processor.store.base import (
    PatternRecord,
    PatternStore,
    StateWrite,
    StoredState,
    StoreSnapshot,
    SymbolRecord,
    Totals,
)
from kato.processor.store.records import (
    pattern_document,
    pattern_from_document,
    symbol_document,
    symbol_from_document,
    totals_document,
    totals_from_document,
)

Row = tuple[Any, ...]

_UPSERT = (
    "INSERT INTO {} (name, document) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET document = excluded.document"
)
_INSERT = "INSERT INTO {} (name, document) VALUES (?, ?)"


class SQLStore(PatternStore):
    """The :class:`PatternStore` operations in SQL; statements use ``?`` placeholders."""

    #: The column a load orders records by: the order they were first written in.
    insertion_order: ClassVar[str]

    @abstractmethod
    def _transaction(self, *, flush: bool = True) -> AbstractContextManager[None]:
        """One transaction: committed when the block ends, rolled back (and raised as
        StorageError) on any error. ``flush=False``: the commit needs not wait for the disk
        (state writes; each store's module doc says what that risks)."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[None]:
        """Reads outside a write transaction: the driver's errors raised as StorageError."""

    @abstractmethod
    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query (inside ``_transaction`` or ``_reading``) and return its rows."""

    @abstractmethod
    def _run(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement that returns no rows (inside ``_transaction``)."""

    @abstractmethod
    def _run_many(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row (inside ``_transaction``)."""

    def load(self) -> StoreSnapshot:
        order = self.insertion_order
        with self._reading():
            patterns = self._rows(f"SELECT document FROM patterns ORDER BY {order}")
            symbols = self._rows(f"SELECT document FROM symbols ORDER BY {order}")
            totals = self._rows("SELECT document FROM totals WHERE id = 0")
        return StoreSnapshot(
            [pattern_from_document(json.loads(row[0])) for row in patterns],
            [symbol_from_document(json.loads(row[0])) for row in symbols],
            totals_from_document(json.loads(totals[0][0]) if totals else None),
        )

    def save_learn(
        self,
        pattern: PatternRecord,
        symbols: Sequence[SymbolRecord],
        totals: Totals,
        state: StateWrite | None = None,
    ) -> None:
        with self._transaction():
            self._run(
                _UPSERT.format("patterns"), (pattern.name, json.dumps(pattern_document(pattern)))
            )
            self._run_many(
                _UPSERT.format("symbols"),
                [(s.name, json.dumps(symbol_document(s))) for s in symbols],
            )
            self._write_totals(totals)
            self._write_state(state)

    def replace_all(self, snapshot: StoreSnapshot, state: StateWrite | None = None) -> None:
        """One transaction: a failure (disk full, a crash) leaves the old memory in place."""
        with self._transaction():
            self._run("DELETE FROM patterns")
            self._run("DELETE FROM symbols")
            self._run_many(
                _INSERT.format("patterns"),
                ((p.name, json.dumps(pattern_document(p))) for p in snapshot.patterns),
            )
            self._run_many(
                _INSERT.format("symbols"),
                ((s.name, json.dumps(symbol_document(s))) for s in snapshot.symbols),
            )
            self._write_totals(snapshot.totals)
            self._write_state(state)

    def clear(self, state: StateWrite | None = None) -> None:
        with self._transaction():
            self._run("DELETE FROM patterns")
            self._run("DELETE FROM symbols")
            self._write_totals(Totals())
            self._write_state(state)

    def load_state(self) -> StoredState:
        with self._reading():
            parts = self._rows("SELECT name, value FROM state")
            log = self._rows("SELECT unique_id, value FROM state_log ORDER BY seq")
        return StoredState(
            {name: bytes(value) for name, value in parts},
            [(unique_id, bytes(value)) for unique_id, value in log],
        )

    def save_state(self, state: StateWrite) -> None:
        with self._transaction(flush=False):
            self._write_state(state)

    def _write_state(self, state: StateWrite | None) -> None:
        if state is None:
            return
        if state.reset:
            self._run("DELETE FROM state")
            self._run("DELETE FROM state_log")
        if state.parts:
            self._run_many(
                "INSERT INTO state (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                state.parts.items(),
            )
        if state.log_remove:
            self._run_many(
                "DELETE FROM state_log WHERE unique_id = ?", [(uid,) for uid in state.log_remove]
            )
        if state.log_append:
            self._run_many(
                "INSERT INTO state_log (unique_id, value) VALUES (?, ?)", state.log_append
            )

    def _write_totals(self, totals: Totals) -> None:
        self._run(
            "INSERT INTO totals (id, document) VALUES (0, ?) "
            "ON CONFLICT (id) DO UPDATE SET document = excluded.document",
            (json.dumps(totals_document(totals)),),
        )
