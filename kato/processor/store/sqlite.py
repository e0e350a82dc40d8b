"""SQLite store: one database file per processor, ``<data_dir>/<processor_id>.sqlite3``.

WAL journal with ``synchronous=FULL``: a learn is one transaction (pattern, symbols, totals and
the state change of the same request) and is durable when :meth:`SQLiteStore.save_learn`
returns. Records are kept as JSON text in upstream's document shape, so floats round-trip exactly.

Short-term state (tables ``state`` and ``state_log``) is written on every mutating request with
``synchronous=NORMAL``: committed to the WAL before the request is answered, so it survives a
crash or kill of the process or container, but not flushed to the disk, so a power loss or
kernel crash may take back the last state changes (never a learned pattern). An fsync per
observation would cost ~0.4 ms at p50 and tens of ms at p99 on the development machine.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kato.processor.errors import StorageError
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

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS patterns (name TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS symbols (name TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 0), document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_log (
    seq INTEGER PRIMARY KEY, unique_id TEXT NOT NULL UNIQUE, value BLOB NOT NULL
);
"""


class SQLiteStore(PatternStore):
    """Pattern store on a local SQLite file (the default backend)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Calls are serialised by the service but may come from different threads.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(f"Cannot open {path}: {error}", {"path": str(path)}) from error
        self._closed = False
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL between transactions: only state writes run with it (see _transaction).
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as error:
            raise StorageError(f"Cannot open {self.path}: {error}") from error
        if version not in (0, SCHEMA_VERSION):
            raise StorageError(f"Unsupported schema version {version} in {self.path}")
        with self._transaction():
            for statement in filter(None, map(str.strip, _SCHEMA.split(";"))):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def load(self) -> StoreSnapshot:
        try:
            patterns = [
                pattern_from_document(json.loads(row[0]))
                for row in self._db.execute("SELECT document FROM patterns ORDER BY rowid")
            ]
            symbols = [
                symbol_from_document(json.loads(row[0]))
                for row in self._db.execute("SELECT document FROM symbols ORDER BY rowid")
            ]
            row = self._db.execute("SELECT document FROM totals WHERE id = 0").fetchone()
        except sqlite3.Error as error:
            raise StorageError(f"Cannot read {self.path}: {error}") from error
        return StoreSnapshot(patterns, symbols, totals_from_document(row and json.loads(row[0])))

    def save_learn(
        self,
        pattern: PatternRecord,
        symbols: Sequence[SymbolRecord],
        totals: Totals,
        state: StateWrite | None = None,
    ) -> None:
        upsert = "INSERT INTO {} (name, document) VALUES (?, ?) " \
                 "ON CONFLICT(name) DO UPDATE SET document = excluded.document"
        with self._transaction():
            self._db.execute(
                upsert.format("patterns"), (pattern.name, json.dumps(pattern_document(pattern)))
            )
            self._db.executemany(
                upsert.format("symbols"),
                [(s.name, json.dumps(symbol_document(s))) for s in symbols],
            )
            self._write_totals(totals)
            self._write_state(state)

    def replace_all(self, snapshot: StoreSnapshot, state: StateWrite | None = None) -> None:
        """One transaction: a failure (disk full, a crash) leaves the old memory in place."""
        insert = "INSERT INTO {} (name, document) VALUES (?, ?)"
        with self._transaction():
            self._db.execute("DELETE FROM patterns")
            self._db.execute("DELETE FROM symbols")
            self._db.executemany(
                insert.format("patterns"),
                ((p.name, json.dumps(pattern_document(p))) for p in snapshot.patterns),
            )
            self._db.executemany(
                insert.format("symbols"),
                ((s.name, json.dumps(symbol_document(s))) for s in snapshot.symbols),
            )
            self._write_totals(snapshot.totals)
            self._write_state(state)

    def clear(self, state: StateWrite | None = None) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM patterns")
            self._db.execute("DELETE FROM symbols")
            self._write_totals(Totals())
            self._write_state(state)

    def load_state(self) -> StoredState:
        try:
            parts = dict(self._db.execute("SELECT name, value FROM state"))
            log = list(self._db.execute("SELECT unique_id, value FROM state_log ORDER BY seq"))
        except sqlite3.Error as error:
            raise StorageError(f"Cannot read {self.path}: {error}") from error
        return StoredState(parts, log)

    def save_state(self, state: StateWrite) -> None:
        with self._transaction(flush=False):
            self._write_state(state)

    def _write_state(self, state: StateWrite | None) -> None:
        if state is None:
            return
        if state.reset:
            self._db.execute("DELETE FROM state")
            self._db.execute("DELETE FROM state_log")
        self._db.executemany(
            "INSERT INTO state (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            state.parts.items(),
        )
        if state.log_remove:
            self._db.executemany(
                "DELETE FROM state_log WHERE unique_id = ?", [(uid,) for uid in state.log_remove]
            )
        if state.log_append:
            self._db.executemany(
                "INSERT INTO state_log (unique_id, value) VALUES (?, ?)", state.log_append
            )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    def _write_totals(self, totals: Totals) -> None:
        self._db.execute(
            "INSERT INTO totals (id, document) VALUES (0, ?) "
            "ON CONFLICT(id) DO UPDATE SET document = excluded.document",
            (json.dumps(totals_document(totals)),),
        )

    @contextmanager
    def _transaction(self, *, flush: bool = True) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; on any error rolled back and raised as StorageError.

        ``flush``: commit with ``synchronous=FULL`` (on the disk when it returns); without it the
        commit is in the WAL (the OS has it) but not flushed, which is what state writes use.
        """
        try:
            if flush:
                self._db.execute("PRAGMA synchronous=FULL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                if flush:
                    self._db.execute("PRAGMA synchronous=NORMAL")
        except StorageError:
            raise
        except Exception as error:  # sqlite3.Error, or a record that does not serialise
            raise StorageError(f"SQLite failure on {self.path}: {error}") from error
