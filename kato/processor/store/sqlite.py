"""SQLite store: one database file per processor, ``<data_dir>/<processor_id>.sqlite3``.

WAL journal with ``synchronous=FULL``: a learn is one transaction (pattern, symbols, totals and
the state change of the same request) and is durable when :meth:`SQLiteStore.save_learn`
returns. Tables and statements are the ones every SQL store shares
(:mod:`kato.processor.store.sql`).

Short-term state (tables ``state`` and ``state_log``) is written on every mutating request with
``synchronous=NORMAL``: committed to the WAL before the request is answered, so it survives a
crash or kill of the process or container, but not flushed to the disk, so a power loss or
kernel crash may take back the last state changes (never a learned pattern). An fsync per
observation would cost ~0.4 ms at p50 and tens of ms at p99 on the development machine.

WAL checkpoints (copying committed pages back into the database file) run after the answer, in
:meth:`SQLiteStore.upkeep`, once every :data:`CHECKPOINT_EVERY` commits: SQLite's automatic
checkpoint ran inside the commit of whichever request crossed 1,000 WAL pages, ~6 ms every ~140
observations of ``bench/processor.py``, which made the p99 of an observation 6-7x its p50 (in
process: 7.5 ms against 2.3 ms with the checkpoint moved out). A checkpoint changes no
committed fact, so the crash window is the same. The automatic checkpoint stays as a backstop
at :data:`CHECKPOINT_BACKSTOP_PAGES`, for a store used without a service calling ``upkeep``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from kato.processor.errors import StorageError
from kato.processor.store.sql import Row, SQLStore

SCHEMA_VERSION = 1
#: Commits between two checkpoints run by :meth:`SQLiteStore.upkeep` (~900 WAL pages with the
#: ~22 KB prediction lists of bench/processor.py, ~250 for an observation without predictions).
CHECKPOINT_EVERY = 128
#: SQLite's own checkpoint inside a commit, past this many WAL pages (16 MiB at 4 KiB pages).
CHECKPOINT_BACKSTOP_PAGES = 4000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS patterns (name TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS symbols (name TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 0), document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_log (
    seq INTEGER PRIMARY KEY, unique_id TEXT NOT NULL UNIQUE, value BLOB NOT NULL
);
"""


class SQLiteStore(SQLStore):
    """Pattern store on a local SQLite file (the default backend)."""

    insertion_order = "rowid"  # an upsert keeps a row's rowid

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Calls are serialised by the service but may come from different threads.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(f"Cannot open {path}: {error}", {"path": str(path)}) from error
        self._closed = False
        self._commits = 0  # since the last checkpoint
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
            self._db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BACKSTOP_PAGES}")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as error:
            raise StorageError(f"Cannot open {self.path}: {error}") from error
        if version not in (0, SCHEMA_VERSION):
            raise StorageError(f"Unsupported schema version {version} in {self.path}")
        with self._transaction():
            for statement in filter(None, map(str.strip, _SCHEMA.split(";"))):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def upkeep_due(self) -> bool:
        return self._commits >= CHECKPOINT_EVERY and not self._closed

    def upkeep(self) -> None:
        """A passive checkpoint (never waits for a reader); a failure leaves the pages in the
        WAL, where every read still finds them, for the next one."""
        self._commits = 0
        with suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.execute(statement, params).fetchall()

    def _run(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._db.execute(statement, params)

    def _run_many(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(statement, rows)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise StorageError(f"Cannot read {self.path}: {error}") from error

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
                self._commits += 1
            finally:
                if flush:
                    self._db.execute("PRAGMA synchronous=NORMAL")
        except StorageError:
            raise
        except Exception as error:  # sqlite3.Error, or a record that does not serialise
            raise StorageError(f"SQLite failure on {self.path}: {error}") from error
