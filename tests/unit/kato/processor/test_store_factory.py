"""open_store's choice of backend and MongoStore's failure handling (no server needed:
pymongo connects lazily, and an unreachable address exercises the retry path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from kato.processor import StorageError, ValidationError, open_store
from kato.processor.store.mongo import MongoStore
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
