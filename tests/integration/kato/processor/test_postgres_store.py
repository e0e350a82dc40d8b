"""What only the PostgreSQL store does, on the run's real server: a schema per processor in one
database, a versioned schema, and a connection that recovers when the server ends it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from kato.processor import StorageError
from kato.processor.store.base import PatternRecord, StateWrite, SymbolRecord, Totals
from kato.processor.store.postgres import PostgresStore
from kato.testing.postgres import PostgresServer

PATTERN = PatternRecord("ab" * 20, [["a"], ["b"]], 2, 1, [])
SYMBOLS = [SymbolRecord("a", 1, 1), SymbolRecord("b", 1, 1)]


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"kato_store_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


def test_processors_in_one_database_keep_to_their_own_schemas(database: str) -> None:
    first, second = PostgresStore(database, "p-1"), PostgresStore(database, "p-2")
    first.save_learn(PATTERN, SYMBOLS, Totals(1, 2, 2), StateWrite({"core": b"1"}))
    assert second.load().patterns == [] and second.load_state().parts == {}
    assert (first.schema, second.schema) == ("kato_p-1", "kato_p-2")
    with psycopg.connect(database) as conn:
        assert conn.execute('SELECT count(*) FROM "kato_p-1".patterns').fetchone() == (1,)
        assert conn.execute('SELECT version FROM "kato_p-1".schema_version').fetchall() == [(1,)]
    first.close()
    second.close()


def test_a_schema_of_another_version_is_refused(database: str) -> None:
    PostgresStore(database, "p-1").close()
    with psycopg.connect(database) as conn:
        conn.execute('UPDATE "kato_p-1".schema_version SET version = 99')
    with pytest.raises(StorageError, match="Unsupported schema version"):
        PostgresStore(database, "p-1")


def test_a_connection_the_server_ends_fails_one_call_and_the_next_reconnects(
    database: str, postgres_server: PostgresServer
) -> None:
    store = PostgresStore(database, "p-1")
    store.save_learn(PATTERN, SYMBOLS, Totals(1, 2, 2))
    postgres_server.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        database.rsplit("/", 1)[1],
    )
    with pytest.raises(StorageError) as failed:
        store.save_state(StateWrite({"core": b"lost"}))
    assert failed.value.status == 503
    assert postgres_server.password not in failed.value.message
    store.save_state(StateWrite({"core": b"kept"}))
    assert store.load().patterns == [PATTERN]
    assert store.load_state().parts == {"core": b"kept"}
    store.close()


def test_a_closed_store_refuses_calls(database: str) -> None:
    store = PostgresStore(database, "p-1")
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.load()
