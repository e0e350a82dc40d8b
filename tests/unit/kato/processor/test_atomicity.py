"""A failing store leaves the processor exactly as it was (QUIRK-18 fix)."""

from __future__ import annotations

import pytest

from kato.processor import KatoProcessor, StorageError
from tests.unit.kato.processor.failing_store import FailingStore
from tests.unit.kato.processor.helpers import learn_sequence, make_processor, obs, observe_all


@pytest.fixture(params=[StorageError("disk full"), OSError("I/O error")], ids=["kato", "other"])
def store(request: pytest.FixtureRequest) -> FailingStore:
    return FailingStore(request.param)


def _prepared(store: FailingStore, **config: int) -> KatoProcessor:
    processor = make_processor(store, **config)
    learn_sequence(processor, "a", "b", "c")
    observe_all(processor, "a", ["b", "x"])
    return processor


def test_failed_learn_keeps_stm_and_memory(store: FailingStore) -> None:
    processor = _prepared(store)
    before = processor.export_state()
    store.failing = True
    with pytest.raises(StorageError) as raised:
        processor.learn()
    assert raised.value.code == "KATO_STORAGE_ERROR" and raised.value.status == 503
    assert processor.export_state() == before
    assert processor.pattern_count == 1
    store.failing = False
    assert processor.learn().startswith("PTRN|")
    assert processor.pattern_count == 2


def test_failed_auto_learn_rolls_back_the_observation(store: FailingStore) -> None:
    processor = _prepared(store, max_pattern_length=3)
    before = processor.export_state()
    store.failing = True
    with pytest.raises(StorageError):
        processor.observe(obs(["c"]))
    assert processor.export_state() == before
    assert processor.time == 5


def test_failed_clear_all_changes_nothing(store: FailingStore) -> None:
    processor = _prepared(store)
    before = processor.export_state()
    store.failing = True
    with pytest.raises(StorageError):
        processor.clear_all()
    assert processor.export_state() == before
    assert processor.pattern_count == 1
