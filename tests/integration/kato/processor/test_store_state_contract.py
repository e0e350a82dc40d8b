"""The short-term state part of the PatternStore contract (load_state / save_state and the state
riding on save_learn / clear), against every backend: real SQLite files, MongoDB when
KATO_TEST_MONGO_URL is set."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kato.processor import StorageError
from kato.processor.store.base import (
    PatternRecord,
    PatternStore,
    StateWrite,
    StoredState,
    SymbolRecord,
    Totals,
)

StoreFactory = Callable[[], PatternStore]
PATTERN = PatternRecord("ab" * 20, [["a"], ["b"]], 2, 1, [])
SYMBOLS = [SymbolRecord("a", 1, 1), SymbolRecord("b", 1, 1)]
BINARY = bytes(range(256))  # every byte value survives


def test_nothing_saved_loads_empty(reopen: StoreFactory) -> None:
    assert reopen().load_state() == StoredState({}, [])


def test_parts_and_log_round_trip_in_order(reopen: StoreFactory) -> None:
    store = reopen()
    store.save_state(StateWrite({"core": b"{}", "bin": BINARY}, [("u2", b"x"), ("u1", b"y")]))
    store.save_state(StateWrite({"core": b"{1}"}, [("u0", BINARY)], ["u2"]))
    assert reopen().load_state() == StoredState(
        {"core": b"{1}", "bin": BINARY}, [("u1", b"y"), ("u0", BINARY)]
    )


def test_reset_drops_everything_before_the_new_parts(reopen: StoreFactory) -> None:
    store = reopen()
    store.save_state(StateWrite({"core": b"old", "gone": b"1"}, [("u1", b"y")]))
    store.save_state(StateWrite({"core": b"new"}, [("u9", b"z")], reset=True))
    assert reopen().load_state() == StoredState({"core": b"new"}, [("u9", b"z")])


def test_state_rides_on_learn_and_clear(reopen: StoreFactory) -> None:
    store = reopen()
    store.save_learn(PATTERN, SYMBOLS, Totals(1, 2, 2), StateWrite({"core": b"learned"}))
    loaded = reopen()
    assert loaded.load_state().parts == {"core": b"learned"}
    assert loaded.load().patterns == [PATTERN]
    store.clear(StateWrite({"core": b"cleared"}, reset=True))
    assert reopen().load_state() == StoredState({"core": b"cleared"}, [])
    assert reopen().load().patterns == []


def test_a_failed_learn_keeps_its_state_change_out(
    reopen: StoreFactory, request: pytest.FixtureRequest
) -> None:
    if "memory" in request.node.callspec.id:
        pytest.skip("MemoryStore keeps Python objects and never fails to serialise")
    store = reopen()
    store.save_state(StateWrite({"core": b"before"}))
    broken = [SymbolRecord("d", 1, 1, {"joy": object()})]  # type: ignore[dict-item]
    with pytest.raises(StorageError):
        store.save_learn(PATTERN, broken, Totals(1, 1, 1), StateWrite({"core": b"after"}))
    assert reopen().load_state().parts == {"core": b"before"}
    assert reopen().load().patterns == []
