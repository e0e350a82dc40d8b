"""Group commit: concurrent writes share a commit, each is isolated, none returns before disk."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from session_manager.group_commit import GroupCommit
from session_manager.registry import SessionRecord, SessionRegistry


class _File:
    """One SQLite file with a `t(k)` table, its writer, and a count of the COMMITs it ran."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        self.commits = 0
        self.db.set_trace_callback(self._trace)
        self.lock = threading.Lock()
        self.writes = GroupCommit(lambda: self.db, self.lock, "test")

    def _trace(self, statement: str) -> None:
        self.commits += statement == "COMMIT"

    def keys(self) -> set[str]:
        """What another connection reads: only what was committed."""
        with sqlite3.connect(self.path) as other:
            return {k for (k,) in other.execute("SELECT k FROM t")}


def _insert(db: sqlite3.Connection, key: str) -> str:
    db.execute("INSERT INTO t (k) VALUES (?)", (key,))
    return key


def _insert_then_fail(db: sqlite3.Connection, key: str) -> None:
    db.execute("INSERT INTO t (k) VALUES (?)", (key,))
    raise ValueError(f"refused {key}")


@pytest.fixture
def file(tmp_path: Path) -> Iterator[_File]:
    made = _File(tmp_path / "t.sqlite3")
    yield made
    made.writes.close()
    made.db.close()


async def test_concurrent_writes_share_commits(file: _File) -> None:
    with file.lock:  # the writer is busy: every write below queues behind it
        pending = [asyncio.ensure_future(file.writes.submit(_insert, f"k{i}")) for i in range(20)]
        await asyncio.sleep(0.05)
    assert await asyncio.gather(*pending) == [f"k{i}" for i in range(20)]
    assert file.keys() == {f"k{i}" for i in range(20)}
    assert file.commits <= 2  # one per write without grouping: 20


async def test_a_write_is_on_disk_when_it_returns(file: _File) -> None:
    await file.writes.submit(_insert, "a")
    assert file.keys() == {"a"}


async def test_a_failing_write_is_rolled_back_alone(file: _File) -> None:
    with file.lock:
        good = asyncio.ensure_future(file.writes.submit(_insert, "good"))
        bad = asyncio.ensure_future(file.writes.submit(_insert_then_fail, "bad"))
        also = asyncio.ensure_future(file.writes.submit(_insert, "also"))
        await asyncio.sleep(0.05)
    assert await good == "good"
    assert await also == "also"
    with pytest.raises(ValueError, match="refused bad"):
        await bad
    assert file.keys() == {"good", "also"}


async def test_a_failed_commit_fails_every_write_of_the_batch(file: _File) -> None:
    file.db.execute("BEGIN")  # a transaction already open: BEGIN IMMEDIATE fails
    with pytest.raises(sqlite3.OperationalError):
        await file.writes.submit(_insert, "x")
    file.db.execute("ROLLBACK")
    assert file.keys() == set()


async def test_on_commit_runs_after_the_commit_in_submission_order(file: _File) -> None:
    seen: list[tuple[str, set[str]]] = []

    def observe(key: str) -> None:
        seen.append((key, file.keys()))

    with file.lock:
        pending = [
            asyncio.ensure_future(file.writes.submit(_insert, k, on_commit=observe))
            for k in ("a", "b", "c")
        ]
        await asyncio.sleep(0.05)
    await asyncio.gather(*pending)
    assert [key for key, _ in seen] == ["a", "b", "c"]
    assert all(key in committed for key, committed in seen)


def test_run_commits_now_and_raises_with_nothing_written(file: _File) -> None:
    assert file.writes.run(_insert, "now") == "now"
    with pytest.raises(ValueError):
        file.writes.run(_insert_then_fail, "never")
    assert file.keys() == {"now"}


async def test_a_closed_writer_refuses_like_a_closed_connection(file: _File) -> None:
    file.writes.close()
    with pytest.raises(sqlite3.ProgrammingError):
        await file.writes.submit(_insert, "late")


async def test_registry_writes_through_call_are_grouped_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    registry = SessionRegistry(path)
    commits = 0

    def trace(statement: str) -> None:
        nonlocal commits
        commits += statement == "COMMIT"

    registry._open().set_trace_callback(trace)
    records = [
        SessionRecord(f"s{i}", f"p{i}", None, "starting", created_at=i, last_activity=i)
        for i in range(10)
    ]
    await asyncio.gather(*(registry.call(registry.put, r) for r in records))
    await asyncio.gather(*(registry.call(registry.delete, f"s{i}") for i in range(5)))
    assert commits < 15
    registry.close()
    reopened = SessionRegistry(path)
    assert reopened.ids() == [f"s{i}" for i in range(5, 10)]
    reopened.close()
