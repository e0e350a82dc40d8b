"""Group commit: concurrent writers to one SQLite file share one transaction and one fsync.

The registry and the event log commit with `synchronous=FULL`, so every commit waits for the
disk (~4 ms here). Ten concurrent creates used to queue twenty such commits one behind the
other on each file. Here writers submitted while a commit is in flight are gathered and
committed together by the file's one writer thread: N writers cost about one fsync, and each
still returns only after the COMMIT that holds its change, so a client is never told of
anything that is not on disk.

Each write runs in its own SAVEPOINT: one that raises is rolled back alone and gets its own
exception, the others commit. A failed COMMIT fails every write of the batch.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
#: A write's statements: run on the connection, inside the batch's transaction.
Statements = Callable[..., Any]


@dataclass
class _Write:
    statements: Statements
    args: tuple[Any, ...]
    on_commit: Callable[[Any], None] | None = None
    future: asyncio.Future[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    outcome: Any = None
    failed: BaseException | None = field(default=None)


class GroupCommit:
    """The one writer of a connection: `run` commits now on the caller's thread, `submit`
    joins the next batch on the writer thread, and `read` runs any call on that thread (off
    the event loop, in order with the writes)."""

    def __init__(
        self, connection: Callable[[], sqlite3.Connection], lock: threading.Lock, name: str
    ) -> None:
        self._connection = connection
        self._lock = lock  # guards the connection; also taken by the owner's own reads
        self._pending: list[_Write] = []
        self._pending_lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def run(
        self, statements: Statements, *args: Any, on_commit: Callable[[Any], None] | None = None
    ) -> Any:
        """Commit one write now (synchronous callers: start-up, tests)."""
        write = _Write(statements, args, on_commit)
        with self._lock:
            self._commit([write])
        if write.failed is not None:
            raise write.failed
        return write.outcome

    async def submit(
        self, statements: Statements, *args: Any, on_commit: Callable[[Any], None] | None = None
    ) -> Any:
        """Commit a write with whatever else is waiting; return once it is on disk."""
        loop = asyncio.get_running_loop()
        write = _Write(statements, args, on_commit, loop.create_future(), loop)
        with self._pending_lock:
            self._pending.append(write)
            if len(self._pending) == 1:  # the first of a batch schedules its flush
                try:
                    self._thread.submit(self._flush)
                except RuntimeError:  # closed: the error a closed connection gives
                    self._pending.remove(write)
                    raise sqlite3.ProgrammingError("Cannot operate on a closed database.") from None
        assert write.future is not None
        return await write.future

    async def read(self, method: Callable[..., T], *args: Any) -> T:
        """Run `method(*args)` on the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: method(*args))

    def close(self) -> None:
        self._thread.shutdown(wait=False)

    def _flush(self) -> None:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        with self._lock:
            self._commit(batch)
        for write in batch:
            assert write.loop is not None
            write.loop.call_soon_threadsafe(_settle, write)

    def _commit(self, batch: list[_Write]) -> None:
        """One transaction for the batch, a savepoint per write; `on_commit` hooks run after
        the COMMIT, in submission order, still under the lock (so observers see commit order)."""
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            for write in batch:
                write.failed = exc
            return
        try:
            for write in batch:
                db.execute("SAVEPOINT write")
                try:
                    write.outcome = write.statements(db, *write.args)
                except Exception as exc:
                    db.execute("ROLLBACK TO write")
                    write.failed = exc
                db.execute("RELEASE write")
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            for write in batch:
                write.failed = exc
            return
        for write in batch:
            if write.failed is None and write.on_commit is not None:
                write.on_commit(write.outcome)


def _settle(write: _Write) -> None:
    future = write.future
    if future is None or future.done():  # the caller was cancelled: the write still stands
        return
    if write.failed is not None:
        future.set_exception(write.failed)
    else:
        future.set_result(write.outcome)
