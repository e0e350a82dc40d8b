"""PostgreSQL store: one schema per processor, ``kato_<processor_id>``, in the database of the
URL (``KATO_POSTGRES_URL``), so the memory lives off the node the processor runs on.

The tables and statements are the SQLite store's (:mod:`kato.processor.store.sql`); a learn is
one transaction (pattern, symbols, totals and the state change of the same request) committed
with the server's ``synchronous_commit`` (on by default: in the server's WAL on its disk) before
:meth:`PostgresStore.save_learn` returns. A state-only write commits with
``synchronous_commit=off``: the server has it when the call returns, so it survives any crash
of the processor or its container, but a crash of the PostgreSQL server itself may take back
its last fraction of a second of state changes (never a learned pattern), as SQLite's
``synchronous=NORMAL`` does on a power loss.

The schema is created on open when missing (the URL's role needs the database's CREATE
privilege for that), with a ``schema_version`` table; a processor provisioned by
:mod:`kato.processor.store.postgres_roles` finds its schema made and owned by its own role, and
no other processor's role can read it. One connection per store, opened with a bounded
timeout; one that breaks makes that call fail (503) and the next call reconnects, so a server
restart costs the requests in flight, not the processor. Every failure is a
:class:`~kato.processor.errors.StorageError` whose message never holds the URL's password.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kato.processor.errors import StorageError
from kato.processor.store.sql import Row, SQLStore

__all__ = [
    "MAX_PROCESSOR_ID",
    "SCHEMA_PREFIX",
    "PostgresStore",
    "redact",
    "schema_name",
    "storage_error",
]

SCHEMA_VERSION = 1
SCHEMA_PREFIX = "kato_"
#: PostgreSQL names are at most 63 bytes; the prefix takes 5.
MAX_PROCESSOR_ID = 63 - len(SCHEMA_PREFIX)

_TABLES = (
    "CREATE TABLE schema_version (version integer NOT NULL)",
    "CREATE TABLE patterns (seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,"
    " name text PRIMARY KEY, document text NOT NULL)",
    "CREATE TABLE symbols (seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,"
    " name text PRIMARY KEY, document text NOT NULL)",
    "CREATE TABLE totals (id integer PRIMARY KEY CHECK (id = 0), document text NOT NULL)",
    "CREATE TABLE state (name text PRIMARY KEY, value bytea NOT NULL)",
    "CREATE TABLE state_log (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " unique_id text NOT NULL UNIQUE, value bytea NOT NULL)",
)


def schema_name(processor_id: str) -> str:
    """The schema (and, when provisioned, the role) of a processor: ``kato_<processor_id>``."""
    if not processor_id or len(processor_id) > MAX_PROCESSOR_ID:
        raise StorageError(
            f"PostgreSQL holds processor ids of 1-{MAX_PROCESSOR_ID} characters",
            {"processor_id": processor_id},
        )
    return SCHEMA_PREFIX + processor_id


def redact(url: str) -> str:
    """``url`` (a URL or ``key=value`` connection string) with its password replaced by ``***``:
    the only form of it that logs and errors show."""
    try:
        if "://" not in url:
            params = conninfo_to_dict(url)
            if "password" in params:
                params["password"] = "***"
            return make_conninfo("", **params)
        parts = urlsplit(url)
        if parts.password is None and "password=" not in parts.query:
            return url
        host = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}:***@" if parts.password is not None else ""
        query = "&".join(
            "password=***" if item.startswith("password=") else item
            for item in parts.query.split("&")
        )
        return urlunsplit(parts._replace(netloc=f"{user}{host}", query=query))
    except (ValueError, psycopg.Error):
        return "<unparsable PostgreSQL URL>"


class PostgresStore(SQLStore):
    """Pattern store in the schema ``kato_<processor_id>`` of the database at ``url``."""

    insertion_order = "seq"  # an upsert keeps a row's seq

    def __init__(self, url: str, processor_id: str, *, connect_timeout: int = 10) -> None:
        self.schema = schema_name(processor_id)
        self._url = url
        self.location = f"{redact(url)} schema {self.schema}"
        self._connect_timeout = connect_timeout
        self._lock = threading.RLock()  # calls may come from different threads
        self._conn: psycopg.Connection[Row] | None = None
        self._closed = False
        try:
            with self._transaction():
                self._prepare()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def _prepare(self) -> None:
        """Create the schema and tables if missing (one opener at a time), check the version."""
        conn = self._connection()
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
        if conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
        ).fetchone() is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        # Without USAGE the search path skips the schema and every table looks missing.
        (allowed,) = conn.execute(
            "SELECT has_schema_privilege(%s, 'USAGE')", (self.schema,)
        ).fetchone() or (False,)
        if not allowed:
            raise StorageError(
                f"The role of {self.location} may not use schema {self.schema} "
                "(another processor's memory)",
                {"store": self.location, "sqlstate": "42501"},
            )
        exists = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'schema_version'",
            (self.schema,),
        ).fetchone()
        if exists is None:
            for statement in _TABLES:
                conn.execute(statement.encode())
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
            return
        found = conn.execute("SELECT version FROM schema_version").fetchall()
        if found != [(SCHEMA_VERSION,)]:
            versions = [row[0] for row in found]
            raise StorageError(f"Unsupported schema version {versions} in {self.location}")

    def _connection(self) -> psycopg.Connection[Row]:
        """The open connection, (re)connected when there is none or it broke."""
        if self._closed:
            raise StorageError(f"The store on {self.location} is closed")
        if self._conn is not None and self._conn.broken:
            self._conn.close()
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout
            )
            try:
                conn.execute(
                    "SELECT set_config('search_path', %s, false)",
                    (sql.Identifier(self.schema).as_string(conn),),
                )
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        # Binary results: bytea arrives as stored, not as hex text to decode (the bench's
        # 22 MB prediction log of 1,000 entries loads in 66 ms instead of 131 ms).
        return self._connection().execute(_pyformat(statement), params, binary=True).fetchall()

    def _run(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._connection().execute(_pyformat(statement), params)

    def _run_many(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            with self._connection().cursor() as cursor:
                cursor.executemany(_pyformat(statement), rows)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._transaction(flush=False):
            yield

    @contextmanager
    def _transaction(self, *, flush: bool = True) -> Iterator[None]:
        """BEGIN … COMMIT on the one connection, pipelined: the statements that return no rows
        go out with the COMMIT, one round trip for a write instead of four or more. On loopback
        that costs psycopg ~0.08 ms more per state write (0.31 vs 0.23 ms measured); over a
        network, where the store is meant to be, each saved round trip is worth more. Any error
        rolls back and is raised as StorageError. ``flush=False``: ``synchronous_commit=off``
        for this transaction only."""
        with self._lock:
            try:
                conn = self._connection()
                with conn.pipeline(), conn.transaction():
                    if not flush:
                        self._run("SELECT set_config('synchronous_commit', 'off', true)")
                    yield
            except StorageError:
                raise
            except Exception as error:  # psycopg.Error, or a record that does not serialise
                raise self._failure(error) from None

    def _failure(self, error: Exception) -> StorageError:
        """The error as StorageError; a broken connection is dropped so that the next call
        reconnects."""
        if self._conn is not None and self._conn.broken:
            self._conn.close()
            self._conn = None
        return storage_error(error, self._url, self.location)


def storage_error(error: Exception, url: str, where: str) -> StorageError:
    """``error`` as a StorageError about ``where``, every spelling of ``url``'s password in its
    message replaced by ``***``, its SQLSTATE (when the server gave one) in the details."""
    message = str(error).strip() or type(error).__name__
    for secret in _secrets(url):
        message = message.replace(secret, "***")
    details = {"store": where}
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate:
        details["sqlstate"] = sqlstate
    return StorageError(f"PostgreSQL failure on {where}: {message}", details)


def _pyformat(statement: str) -> str:
    """The shared statements' ``?`` placeholders as psycopg's ``%s`` (they hold no literal
    ``?`` or ``%``)."""
    return statement.replace("?", "%s")


def _secrets(url: str) -> list[str]:
    """The password of ``url`` in every spelling an error could quote (as written, decoded)."""
    found: set[str] = set()
    with suppress(psycopg.Error):
        found.add(str(conninfo_to_dict(url).get("password") or ""))
    try:
        written = urlsplit(url).password if "://" in url else None
    except ValueError:
        written = None
    if written:
        found.update((written, unquote(written)))
    return sorted(filter(None, found), key=len, reverse=True)
