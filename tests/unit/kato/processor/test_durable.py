"""Short-term state persisted through the store: a processor reopened on the same store (here the
same MemoryStore, standing in for a restarted process) resumes exactly where the last one was."""

from __future__ import annotations

from typing import Any

import pytest

from kato.processor import KatoProcessor, StorageError
from kato.processor.durable import CORE
from kato.processor.store.base import StateWrite
from kato.processor.store.memory import MemoryStore
from tests.unit.kato.processor.failing_store import FailingStore
from tests.unit.kato.processor.helpers import learn_sequence, make_processor, obs, observe_all


def _same(first: KatoProcessor, second: KatoProcessor) -> None:
    assert second.export_state() == first.export_state()
    assert second.get_predictions() == first.get_predictions()
    assert second.cognition_data() == first.cognition_data()
    assert second.percept_data() == first.percept_data()


def _busy(store: MemoryStore, **config: Any) -> KatoProcessor:
    processor = make_processor(store, **config)
    learn_sequence(processor, "a", "b", "c")
    learn_sequence(processor, "a", "b", "d")
    processor.update_genes({"recall_threshold": 0.2, "max_predictions": 7})
    processor.observe(obs(["a"], [[1.0, 2.0]], {"joy": 0.5}, unique_id="first"))
    processor.observe(obs(["b"], emotives={"joy": 1.5}, unique_id="second"))
    processor.observe(obs(emotives={"fear": 1.0}, unique_id="empty"))
    return processor


def test_reopened_processor_resumes_every_part_of_the_state() -> None:
    store = MemoryStore()
    first = _busy(store)
    assert first.stm and first.get_predictions() and first.get_predictions("second")
    _same(first, make_processor(store))
    assert make_processor(store).get_gene("max_predictions") == 7


@pytest.mark.parametrize(
    "step",
    [
        lambda p: p.learn(),
        lambda p: p.clear_stm(),
        lambda p: p.clear_all(),
        lambda p: p.update_genes({"sort": False}),
        lambda p: p.observe(obs(["c"], unique_id="second")),  # a logged id: first record wins
        lambda p: p.import_state(_busy(MemoryStore(), max_pattern_length=2).export_state()),
    ],
    ids=["learn", "clear-stm", "clear-all", "genes", "repeated-id", "import"],
)
def test_every_mutation_is_persisted(step: Any) -> None:
    store = MemoryStore()
    first = _busy(store)
    step(first)
    _same(first, make_processor(store))


def test_auto_learn_and_the_stm_it_empties_persist_together() -> None:
    store = MemoryStore()
    first = make_processor(store, max_pattern_length=3)
    observe_all(first, "a", "b")
    result = first.observe(obs(["c"]))
    assert result.auto_learned_pattern and first.stm == [["c"]]
    second = make_processor(store, max_pattern_length=3)
    _same(first, second)
    assert second.pattern_count == 1


def test_bounded_log_evictions_are_persisted() -> None:
    store = MemoryStore()
    first = make_processor(store, prediction_log_size=2)
    learn_sequence(first, "a", "b", "c")
    for uid in ("one", "two", "three"):
        first.clear_stm()
        observe_all(first, "a")
        first.observe(obs(["b"], unique_id=uid))
    assert [uid for uid, _ in store.load_state().log] == ["two", "three"]
    _same(first, make_processor(store, prediction_log_size=2))


def test_failed_state_write_changes_nothing() -> None:
    store = FailingStore(OSError("disk full"))
    processor = make_processor(store)
    learn_sequence(processor, "a", "b", "c")
    observe_all(processor, "a")
    before, stored = processor.export_state(), store.load_state()
    store.failing = True
    for step in (lambda: processor.observe(obs(["b"])), processor.clear_stm,
                 lambda: processor.update_genes({"max_predictions": 3})):
        with pytest.raises(StorageError):
            step()
        assert processor.export_state() == before
        assert store.load_state() == stored


def test_unreadable_state_is_reported_and_replaced() -> None:
    store = MemoryStore()
    _busy(store)
    store.save_state(StateWrite({CORE: b"{not json"}))
    processor = make_processor(store)
    assert processor.restore_error is not None and "Invalid stored state" in processor.restore_error
    assert (processor.time, processor.stm) == (0, [])
    assert make_processor(store).restore_error is None  # the fresh state replaced it


def test_without_persistence_nothing_is_restored_or_kept() -> None:
    store = MemoryStore()
    _busy(store)
    off = make_processor(store, persist_state=False)
    assert (off.time, off.stm) == (0, [])
    observe_all(off, "x")
    assert store.load_state().parts == {}
    assert make_processor(store).time == 0  # turned on again: nothing stale comes back


def test_an_import_persists_the_imported_state_with_the_imported_memory() -> None:
    """After an import, a restart must come back with the imported state, not the one the
    processor had before (memory and state are replaced in one store write)."""
    source = _busy(MemoryStore())
    store = MemoryStore()
    target = make_processor(store)
    observe_all(target, ["x"], ["y"])
    target.replace_memory(source.memory_image())
    _same(source, make_processor(store))
