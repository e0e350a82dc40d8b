"""open_store's choice of backend, MongoStore's failure handling and PostgresStore's (no server
needed: pymongo connects lazily, and an unreachable address exercises the retry path; psycopg
connects on open, and a refused one shows what an error says about the URL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from kato.processor import StorageError, ValidationError, open_store
from kato.processor.store.mongo import MongoStore
from kato.processor.store.postgres import redact, schema_name
from kato.processor.store.sqlite import SQLiteStore

UNREACHABLE = "mongodb://127.0.0.1:9/?connectTimeoutMS=100"


def test_sqlite_by_default(tmp_path: Path) -> None:
    store = open_store("abc-1", data_dir=tmp_path)
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == tmp_path / "abc-1.sqlite3"
    finally:
        store.close()


def test_mongo_when_url_given() -> None:
    store = open_store("abc-1", mongo_url=UNREACHABLE)
    try:
        assert isinstance(store, MongoStore)
    finally:
        store.close()


@pytest.mark.parametrize("processor_id", ["", "../x", "a/b", "a.b", "x" * 65])
def test_unsafe_processor_ids_are_rejected(processor_id: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        open_store(processor_id, data_dir=tmp_path)


def _store(attempts: int) -> MongoStore:
    return MongoStore(
        UNREACHABLE, "kato_unit", attempts=attempts, backoff_seconds=0,
        server_selection_timeout_ms=100,
    )


def test_transient_errors_are_retried_then_succeed() -> None:
    store = _store(attempts=3)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise AutoReconnect("primary stepped down")
        return "done"

    try:
        assert store._retry(flaky) == "done"
        assert len(calls) == 3
    finally:
        store.close()


def test_non_transient_errors_are_not_retried() -> None:
    store = _store(attempts=3)
    calls = []

    def denied() -> None:
        calls.append(1)
        raise OperationFailure("not authorized")

    try:
        with pytest.raises(StorageError):
            store._retry(denied)
        assert len(calls) == 1
    finally:
        store.close()


def test_unreachable_server_is_a_storage_error_after_bounded_retries() -> None:
    store = _store(attempts=2)
    try:
        with pytest.raises(StorageError) as raised:
            store.load()
        assert raised.value.status == 503
    finally:
        store.close()


# Port 9 (discard) refuses at once on loopback: the store connects on open, so it fails there.
REFUSED_POSTGRES = "postgresql://kato_abc:s3cr%2Ft@127.0.0.1:9/kato?connect_timeout=2"


def test_postgres_when_url_given_connects_on_open_and_keeps_the_password_out() -> None:
    with pytest.raises(StorageError) as raised:
        open_store("abc-1", postgres_url=REFUSED_POSTGRES)
    error = raised.value
    assert error.status == 503
    shown = f"{error.message} {error.details} {error.__cause__!r} {error.__context__!r}"
    assert "s3cr" not in shown and "127.0.0.1:9" in shown
    assert error.details["store"] == (
        "postgresql://kato_abc:***@127.0.0.1:9/kato?connect_timeout=2 schema kato_abc-1"
    )


def test_one_shared_store_at_a_time() -> None:
    with pytest.raises(ValidationError):
        open_store("abc-1", mongo_url=UNREACHABLE, postgres_url=REFUSED_POSTGRES)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h/db?user=u&password=pw", "postgresql://h/db?user=u&password=***"),
        ("postgresql://u:pw@[::1", "<unparsable PostgreSQL URL>"),
    ],
)
def test_redact_hides_the_password_in_every_spelling(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_redact_hides_the_password_of_a_keyword_connection_string() -> None:
    shown = redact("host=h user=u password=pw dbname=db")
    assert sorted(shown.split()) == ["dbname=db", "host=h", "password=***", "user=u"]


def test_processor_ids_that_do_not_fit_a_postgres_name_are_refused() -> None:
    assert schema_name("a" * 58) == "kato_" + "a" * 58
    with pytest.raises(StorageError, match="1-58 characters"):
        schema_name("a" * 59)
