"""MongoDB store: one database per processor id (as upstream), majority write concern.

A learn writes three idempotent upserts (pattern, symbols, totals) with absolute values. On a
replica set or sharded cluster they run in one multi-document transaction; on a standalone server
(no transactions) they run in order, and because every write is idempotent a retried learn
converges to the same documents. Transient network errors are retried a bounded number of times.

Short-term state lives in the collections ``state`` (one document per named part) and
``state_log`` (one per prediction-log entry, ordered by ``seq``); a state change rides in the
transaction of the learn or clear it belongs to.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from bson.binary import Binary
from pymongo import DESCENDING, MongoClient, ReplaceOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import ConnectionFailure, PyMongoError
from pymongo.write_concern import WriteConcern

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

T = TypeVar("T")
_TOTALS_ID = "totals"
_INSERT_BATCH = 1000


class MongoStore(PatternStore):
    """Pattern store in the MongoDB database named after the processor id."""

    def __init__(
        self,
        url: str,
        processor_id: str,
        *,
        attempts: int = 5,
        backoff_seconds: float = 0.2,
        server_selection_timeout_ms: int = 5000,
    ) -> None:
        self._attempts = attempts
        self._backoff = backoff_seconds
        try:
            self._client: MongoClient[dict[str, Any]] = MongoClient(
                url, serverSelectionTimeoutMS=server_selection_timeout_ms
            )
            self._db = self._client.get_database(
                processor_id, write_concern=WriteConcern("majority")
            )
        except PyMongoError as error:
            raise StorageError(f"Cannot connect to MongoDB: {error}") from error
        self._patterns = self._db["patterns_kb"]
        self._symbols = self._db["symbols_kb"]
        self._metadata = self._db["metadata"]
        self._state = self._db["state"]
        self._state_log = self._db["state_log"]
        self._transactions: bool | None = None

    def load(self) -> StoreSnapshot:
        def read() -> StoreSnapshot:
            return StoreSnapshot(
                [pattern_from_document(d) for d in self._patterns.find({}, {"_id": 0})],
                [symbol_from_document(d) for d in self._symbols.find({}, {"_id": 0})],
                totals_from_document(self._metadata.find_one({"_id": _TOTALS_ID}, {"_id": 0})),
            )

        return self._retry(read)

    def save_learn(
        self,
        pattern: PatternRecord,
        symbols: Sequence[SymbolRecord],
        totals: Totals,
        state: StateWrite | None = None,
    ) -> None:
        def write(session: ClientSession | None) -> None:
            self._patterns.replace_one(
                {"_id": pattern.name}, pattern_document(pattern), upsert=True, session=session
            )
            if symbols:
                self._symbols.bulk_write(
                    [ReplaceOne({"_id": s.name}, symbol_document(s), upsert=True) for s in symbols],
                    session=session,
                )
            self._write_totals(totals, session)
            self._write_state(state, session)

        self._retry(lambda: self._atomically(write))

    def replace_all(self, snapshot: StoreSnapshot, state: StateWrite | None = None) -> None:
        """One transaction on a replica set. A standalone server has none: the records go to
        staging collections that are then renamed over the live ones, so a failure while
        writing changes nothing (only the two renames and the totals are not one step)."""
        self._retry(lambda: self._replace(snapshot, state))

    def _replace(self, snapshot: StoreSnapshot, state: StateWrite | None) -> None:
        if self._supports_transactions():

            def write(session: ClientSession | None) -> None:
                self._patterns.delete_many({}, session=session)
                self._symbols.delete_many({}, session=session)
                _insert(self._patterns, _patterns_of(snapshot), session)
                _insert(self._symbols, _symbols_of(snapshot), session)
                self._write_totals(snapshot.totals, session)
                self._write_state(state, session)

            self._atomically(write)
            return
        for live, documents in ((self._patterns, _patterns_of), (self._symbols, _symbols_of)):
            staging = self._db[f"{live.name}_import"]
            staging.drop()
            self._db.create_collection(staging.name)
            _insert(staging, documents(snapshot), None)
        for live in (self._patterns, self._symbols):
            self._db[f"{live.name}_import"].rename(live.name, dropTarget=True)
        self._write_totals(snapshot.totals, None)
        self._write_state(state, None)

    def clear(self, state: StateWrite | None = None) -> None:
        def wipe(session: ClientSession | None) -> None:
            self._patterns.delete_many({}, session=session)
            self._symbols.delete_many({}, session=session)
            self._write_totals(Totals(), session)
            self._write_state(state, session)

        self._retry(lambda: self._atomically(wipe))

    def load_state(self) -> StoredState:
        def read() -> StoredState:
            parts = {d["_id"]: bytes(d["value"]) for d in self._state.find({})}
            log = [(d["_id"], bytes(d["value"])) for d in self._state_log.find({}).sort("seq")]
            return StoredState(parts, log)

        return self._retry(read)

    def save_state(self, state: StateWrite) -> None:
        self._retry(lambda: self._atomically(lambda session: self._write_state(state, session)))

    def _write_state(self, state: StateWrite | None, session: ClientSession | None) -> None:
        if state is None:
            return
        if state.reset:
            self._state.delete_many({}, session=session)
            self._state_log.delete_many({}, session=session)
        if state.parts:
            self._state.bulk_write(
                [
                    ReplaceOne({"_id": name}, {"value": Binary(value)}, upsert=True)
                    for name, value in state.parts.items()
                ],
                session=session,
            )
        if state.log_remove:
            self._state_log.delete_many({"_id": {"$in": list(state.log_remove)}}, session=session)
        if state.log_append:
            last = self._state_log.find_one({}, {"seq": 1}, sort=[("seq", DESCENDING)],
                                            session=session)
            seq = last["seq"] + 1 if last else 0
            self._state_log.bulk_write(
                [
                    ReplaceOne({"_id": uid}, {"seq": seq + n, "value": Binary(value)}, upsert=True)
                    for n, (uid, value) in enumerate(state.log_append)
                ],
                session=session,
            )

    def close(self) -> None:
        self._client.close()

    def _write_totals(self, totals: Totals, session: ClientSession | None) -> None:
        self._metadata.replace_one(
            {"_id": _TOTALS_ID}, totals_document(totals), upsert=True, session=session
        )

    def _atomically(self, operation: Callable[[ClientSession | None], None]) -> None:
        """One transaction where the deployment supports it, plain ordered writes otherwise."""
        if self._supports_transactions():
            with self._client.start_session() as session:
                session.with_transaction(operation)
        else:
            operation(None)

    def _supports_transactions(self) -> bool:
        if self._transactions is None:
            hello = self._client.admin.command("hello")
            self._transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
        return self._transactions

    def _retry(self, operation: Callable[[], T]) -> T:
        """Retry transient connection errors (bounded, linear backoff); StorageError at the end."""
        attempt = 1
        while True:
            try:
                return operation()
            except ConnectionFailure as error:  # includes AutoReconnect
                if attempt >= self._attempts:
                    raise StorageError(f"MongoDB unavailable: {error}") from error
                time.sleep(self._backoff * attempt)
                attempt += 1
            except PyMongoError as error:
                raise StorageError(f"MongoDB failure: {error}") from error



def _patterns_of(snapshot: StoreSnapshot) -> Iterator[dict[str, Any]]:
    return ({"_id": p.name, **pattern_document(p)} for p in snapshot.patterns)


def _symbols_of(snapshot: StoreSnapshot) -> Iterator[dict[str, Any]]:
    return ({"_id": s.name, **symbol_document(s)} for s in snapshot.symbols)


def _insert(
    collection: Collection[dict[str, Any]],
    documents: Iterator[dict[str, Any]],
    session: ClientSession | None,
) -> None:
    """Insert in order, in batches (a generator made per attempt: a retried transaction
    starts it again)."""
    while batch := list(itertools.islice(documents, _INSERT_BATCH)):
        collection.insert_many(batch, ordered=True, session=session)
