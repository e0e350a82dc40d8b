"""Prediction output, segmentation quirks, search modes and ties (spec §5)."""

from __future__ import annotations

import pytest

from kato.processor import PatternNotFoundError
from tests.unit.kato.processor.helpers import learn_sequence, make_processor, obs, observe_all


def test_output_objects_are_fresh_and_prefixed() -> None:
    processor = make_processor()
    learn_sequence(processor, "a", "b", "c")
    observe_all(processor, "a", "b")
    first = processor.get_predictions()
    first[0]["name"] = "mutated"
    first[0]["matches"].append("zzz")
    again = processor.get_predictions()
    assert again[0]["name"] == "PTRN|b98534b32c1d7489d4ce1a48724aa65aeecbdba9"
    assert again[0]["matches"] == ["a", "b"]
    assert processor.cognition_data()["predictions"] == again
    assert len(again[0]) == 22


def test_missing_and_extras_across_events() -> None:
    processor = make_processor()
    learn_sequence(processor, ["a", "b"], ["c", "d"])
    observe_all(processor, ["a", "x"], ["c", "y"])
    (prediction,) = processor.get_predictions()
    assert prediction["missing"] == ["b", "d"]
    assert prediction["extras"] == ["x", "y"]


def test_value_based_fix_up_quirk() -> None:
    processor = make_processor()
    learn_sequence(processor, "x", "a", "a", "b")
    observe_all(processor, "a", "b")
    (prediction,) = processor.get_predictions()
    assert prediction["past"] == [["x"]]
    assert prediction["present"] == [["a"], ["a"], ["b"]]
    assert prediction["confidence"] == 2 / 3
    assert prediction["potential"] == 3.115349964718


def test_threshold_zero_exhaustive_returns_every_pattern() -> None:
    processor = make_processor(recall_threshold=0.0, exhaustive_search=True)
    for word in ("one", "two", "three"):
        learn_sequence(processor, *(f"{word}{i}" for i in range(25)))
    observe_all(processor, "p", "q", "r")
    predictions = processor.get_predictions()
    assert len(predictions) == 3
    assert {p["fragmentation"] for p in predictions} == {-1.0}


def test_prefilter_ignores_matches_beyond_the_first_ten_symbols() -> None:
    """QUIRK-1 kept by default; exhaustive mode finds the pattern."""
    for exhaustive, expected in ((False, 0), (True, 1)):
        processor = make_processor(exhaustive_search=exhaustive)
        learn_sequence(processor, "q1", "q2", "q3")
        observe_all(processor, *(f"f{i}" for i in range(10)), "q1", "q2")
        assert len(processor.get_predictions()) == expected


def test_ties_are_broken_by_name_at_the_cap() -> None:
    processor = make_processor(recall_threshold=0.0, max_predictions=3)
    names = [learn_sequence(processor, *(f"{w}{i}" for i in range(3))) for w in "pqrst"]
    observe_all(processor, "a", "b")
    predictions = processor.get_predictions()
    assert [p["name"] for p in predictions] == sorted(names)[:3]


def test_prediction_log_lookup_by_unique_id() -> None:
    processor = make_processor()
    learn_sequence(processor, "a", "b", "c")
    processor.observe(obs(["a"], unique_id="x1"))
    processor.observe(obs(["b"], unique_id="x2"))
    logged = processor.get_predictions("x2")
    processor.observe(obs(["c"], unique_id="x3"))
    assert processor.get_predictions("x2") == logged != []
    assert processor.get_predictions("x1") == []
    assert processor.get_predictions("unknown") == []


def test_get_pattern_with_and_without_prefix() -> None:
    processor = make_processor()
    name = learn_sequence(processor, "a", "b")
    assert processor.get_pattern(name) == processor.get_pattern(name[5:])
    with pytest.raises(PatternNotFoundError) as raised:
        processor.get_pattern("PTRN|nope")
    assert raised.value.message == "Pattern PTRN|nope not found"
    assert (raised.value.code, raised.value.status) == ("KATO_PATTERN_NOT_FOUND", 404)
