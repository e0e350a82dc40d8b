"""Isolation by the database (kato.processor.store.postgres_roles) on the run's real PostgreSQL:
each processor's credential reaches its own memory only, and `drop` ends it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from kato.processor import KatoProcessor, Observation, ProcessorConfig, StorageError
from kato.processor.store.postgres import PostgresStore
from kato.processor.store.postgres_roles import drop, processor_url, provision
from kato.testing.postgres import PostgresServer


@pytest.fixture
def admin_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A database of its own; the roles a test provisions are dropped with it."""
    database = f"kato_roles_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(database)
    yield url
    postgres_server.drop_database(database)
    for (role,) in postgres_server.admin(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'kato\\_roles-%'"
    ):
        postgres_server.admin(f'DROP ROLE IF EXISTS "{role}"')


def _processor_id() -> str:
    return f"roles-{uuid.uuid4().hex[:8]}"


def _learn(url: str, processor_id: str, *events: list[str]) -> str:
    processor = KatoProcessor(ProcessorConfig(processor_id), PostgresStore(url, processor_id))
    try:
        for n, event in enumerate(events):
            processor.observe(Observation(event, [], {}, f"o{n}"))
        return processor.learn()
    finally:
        processor.close()


def test_a_processor_reads_and_writes_its_own_memory_only(admin_url: str) -> None:
    a, b = _processor_id(), _processor_id()
    url_a, url_b = provision(admin_url, a), provision(admin_url, b)
    assert url_a != url_b and "postgres:" not in url_a  # the admin's credential is not handed out
    _learn(url_a, a, ["a"], ["b"])
    _learn(url_b, b, ["x"], ["y"])
    other = f'"kato_{b}"'
    with psycopg.connect(url_a, autocommit=True) as conn:
        for statement in (
            f"SELECT document FROM {other}.patterns",
            f"SELECT value FROM {other}.state",
            f"INSERT INTO {other}.patterns (name, document) VALUES ('x', '{{}}')",
            f"DELETE FROM {other}.symbols",
            f"CREATE TABLE {other}.planted (x int)",
            "CREATE SCHEMA planted",  # nor a schema of its own beside the one it was given
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM patterns").fetchone() == (1,)
    with pytest.raises(StorageError) as refused:
        PostgresStore(url_a, b)  # the store itself, pointed at B's schema with A's credential
    assert refused.value.details["sqlstate"] == "42501"
    assert PostgresStore(url_b, b).load().patterns[0].pattern_data == [["x"], ["y"]]


def test_drop_ends_the_credential_and_the_memory(admin_url: str) -> None:
    a = _processor_id()
    url = provision(admin_url, a)
    _learn(url, a, ["a"], ["b"])
    open_store = PostgresStore(url, a)  # a session still open when the session is deleted
    drop(admin_url, a)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5).close()
    with pytest.raises(StorageError):
        open_store.load()  # its session was ended, and it cannot log in again
    open_store.close()
    with psycopg.connect(admin_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (f"kato_{a}",)
        ).fetchone() == (0,)
    drop(admin_url, a)  # dropping again is not an error


def test_provisioning_again_keeps_the_memory_and_replaces_the_password(admin_url: str) -> None:
    a = _processor_id()
    first = provision(admin_url, a)
    name = _learn(first, a, ["a"], ["b"])
    second = provision(admin_url, a)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(first, connect_timeout=5).close()
    store = PostgresStore(second, a)
    assert [p.name for p in store.load().patterns] == [name.removeprefix("PTRN|")]
    store.close()


def test_failures_never_show_the_admin_password(
    admin_url: str, postgres_server: PostgresServer
) -> None:
    wrong = processor_url(admin_url, "postgres", "not-the-password")
    with pytest.raises(StorageError) as failed:
        provision(wrong, _processor_id())
    shown = f"{failed.value.message} {failed.value.details}"
    assert "not-the-password" not in shown and "***" in shown
    assert postgres_server.password not in shown


def test_the_processor_url_keeps_the_admin_urls_address_and_options() -> None:
    assert processor_url(
        "postgresql://postgres:pw@db:5433/kato?sslmode=require&user=x", "kato_p", "s3"
    ) == "postgresql://kato_p:s3@db:5433/kato?sslmode=require"
    keywords = processor_url("host=db port=5433 dbname=kato user=postgres password=pw", "k", "s")
    assert sorted(keywords.split()) == ["dbname=kato", "host=db", "password=s", "port=5433",
                                        "user=k"]
