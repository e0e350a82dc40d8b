"""STM, learning, auto-learning, empty observations and time (spec §2, §3)."""

from __future__ import annotations

import pytest

from kato.processor import Observation, ValidationError
from tests.unit.kato.processor.helpers import learn_sequence, make_processor, obs, observe_all


def test_auto_learn_trace_with_max_pattern_length_3() -> None:
    processor = make_processor(max_pattern_length=3)
    results = [processor.observe(obs([symbol])) for symbol in "abcde"]
    assert [r.auto_learned_pattern for r in results] == [
        None,
        None,
        "PTRN|b98534b32c1d7489d4ce1a48724aa65aeecbdba9",
        None,
        "PTRN|ab1d1f271155115139438a98912570435518ca3a",
    ]
    assert [r.time for r in results] == [1, 2, 3, 4, 5]
    assert processor.stm == [["e"]]
    assert len(processor.get_predictions()) == 1


def test_max_pattern_length_1() -> None:
    processor = make_processor(max_pattern_length=1)
    assert processor.observe(obs(["a"])).auto_learned_pattern == ""
    assert processor.stm == []
    result = processor.observe(obs(["a", "b"]))
    assert result.auto_learned_pattern == "PTRN|395314cc2f2880a00c3e6e11f1e02d8b8c45a0e4"
    assert processor.stm == []


def test_learn_needs_two_symbols_and_always_clears_stm() -> None:
    processor = make_processor()
    assert processor.learn() == ""
    processor.observe(obs(["a"]))
    assert processor.learn() == ""
    assert processor.stm == []
    assert processor.pattern_count == 0
    assert learn_sequence(processor, ["a", "b"]) == "PTRN|395314cc2f2880a00c3e6e11f1e02d8b8c45a0e4"


def test_relearn_increments_frequency() -> None:
    processor = make_processor()
    for _ in range(3):
        name = learn_sequence(processor, "a", "b", "c")
    assert processor.get_pattern(name)["frequency"] == 3
    assert processor.pattern_count == 1


def test_empty_observation_keeps_stm_and_predictions() -> None:
    processor = make_processor()
    learn_sequence(processor, "a", "b", "c")
    observe_all(processor, "a", "b")
    before = processor.get_predictions()
    result = processor.observe(obs())
    assert result.time == processor.time == 6
    assert processor.stm == [["a"], ["b"]]
    assert processor.get_predictions() == before
    assert processor.cognition_data()["symbols"] == []


def test_empty_string_is_a_symbol() -> None:
    processor = make_processor()
    processor.observe(obs([""]))
    assert processor.stm == [[""]]


def test_time_advances_only_after_validation() -> None:
    processor = make_processor()
    with pytest.raises(ValidationError):
        processor.observe(Observation(["a"], [], {}, ""))
    assert processor.time == 0


def test_sort_gene_toggles_sorting() -> None:
    processor = make_processor(sort=False)
    processor.observe(obs(["b", "a"]))
    processor.update_genes({"SORT": True})
    processor.observe(obs(["d", "c"]))
    assert processor.stm == [["b", "a"], ["c", "d"]]


def test_clear_stm_and_clear_all() -> None:
    processor = make_processor()
    learn_sequence(processor, "a", "b")
    observe_all(processor, "a", "b")
    processor.update_genes({"recall_threshold": 0.3})
    processor.clear_stm()
    assert (processor.stm, processor.get_predictions(), processor.percept_data()) == ([], [], {})
    assert processor.time == 4 and processor.pattern_count == 1
    processor.clear_all()
    assert processor.time == 0 and processor.pattern_count == 0
    assert processor.get_gene("recall_threshold") == 0.3  # genes survive clear-all


def test_percept_and_cognition_data() -> None:
    processor = make_processor(name="P")
    processor.observe(obs(["b", "a"], emotives={"x": 1.0}))
    assert processor.percept_data() == {
        "strings": ["b", "a"], "vectors": [], "emotives": {"x": 1.0},
        "path": ["P-unit-process"], "metadata": {},
    }
    cognition = processor.cognition_data()
    assert cognition["symbols"] == ["a", "b"]
    assert cognition["short_term_memory"] == [["a", "b"]]
    assert cognition["command"] == "" and cognition["predictions"] == []


def test_returned_stm_is_a_copy() -> None:
    processor = make_processor()
    processor.observe(obs(["a"]))
    processor.stm[0].append("x")
    assert processor.stm == [["a"]]
