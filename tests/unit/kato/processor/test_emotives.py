"""Emotive averaging and the persistence window (spec §2.5, §4.2; QUIRK-6 fixed, QUIRK-7 kept)."""

from __future__ import annotations

import json

from kato.processor.emotives import mean_emotives, next_window
from tests.unit.kato.processor.helpers import make_processor, obs


def test_mean_ignores_absent_keys_and_keeps_first_appearance_order() -> None:
    result = mean_emotives([{"happy": 4, "sad": 2}, {"happy": 6}, {"sad": 4}])
    assert result == {"happy": 5.0, "sad": 3.0}
    assert list(result) == ["happy", "sad"]


def test_window_drops_zeros_and_keeps_last_entries() -> None:
    assert next_window([], {"a": 0.0}, 3) == [{}]
    assert next_window([{"x": 1.0}], {}, 3) == [{"x": 1.0}]
    assert next_window([{"x": 1.0}, {"x": 2.0}], {"x": 3.0, "y": 0}, 2) == [
        {"x": 2.0}, {"x": 3.0}
    ]


def test_worked_persistence_example() -> None:
    processor = make_processor(persistence=3)
    runs = [(0.8, 0.2), (0.6, 0.0), (0.9, 0.4), (0.7, 0.0), (0.5, 0.6)]
    for joy, energy in runs:
        processor.observe(obs(["A"], emotives={"joy": joy, "energy": energy}))
        processor.observe(obs(["B"], emotives={"joy": joy + 0.1}))
        name = processor.learn()
    record = processor.get_pattern(name)
    assert record["frequency"] == 5
    assert [sorted(entry) for entry in record["emotives"]] == [
        ["energy", "joy"], ["joy"], ["energy", "joy"]
    ]
    processor.observe(obs(["A"]))
    processor.observe(obs(["B"]))
    emotives = processor.get_predictions()[0]["emotives"]
    assert abs(emotives["joy"] - 0.75) < 1e-12
    assert abs(emotives["energy"] - 0.5) < 1e-12


def test_relearn_with_emotives_after_plain_learn_succeeds() -> None:
    """QUIRK-6 fix: a stored ``{}`` is an empty window, not a failure."""
    processor = make_processor()
    processor.observe(obs(["a"]))
    processor.observe(obs(["b"]))
    name = processor.learn()
    assert processor.get_pattern(name)["emotives"] == {}
    processor.observe(obs(["a"], emotives={"joy": 1.0}))
    processor.observe(obs(["b"]))
    assert processor.learn() == name
    record = processor.get_pattern(name)
    assert record["frequency"] == 2
    assert record["emotives"] == [{"joy": 1.0}]


def test_emotives_of_empty_observation_flow_into_next_pattern() -> None:
    processor = make_processor()
    processor.observe(obs(["a"]))
    processor.observe(obs([], emotives={"calm": 2.0}))
    processor.observe(obs(["b"]))
    assert processor.get_pattern(processor.learn())["emotives"] == [{"calm": 2.0}]


def test_runtime_persistence_does_not_change_window() -> None:
    """QUIRK-7 kept: the window size is the start-up value."""
    processor = make_processor(persistence=2)
    processor.update_genes({"persistence": 1})
    assert processor.get_gene("persistence") == 1
    for value in (1.0, 2.0):
        processor.observe(obs(["a", "b"], emotives={"v": value}))
        name = processor.learn()
    assert processor.get_pattern(name)["emotives"] == [{"v": 1.0}, {"v": 2.0}]


def test_current_emotives_survive_learn_and_reset_on_clear() -> None:
    processor = make_processor()
    processor.observe(obs(["a", "b"], emotives={"x": 2.0}))
    processor.learn()
    assert processor.cognition_data()["emotives"] == {"x": 2.0}
    processor.clear_stm()
    assert processor.cognition_data()["emotives"] == {}


def test_mean_of_huge_finite_emotives_stays_finite() -> None:
    processor = make_processor()
    for _ in range(2):
        processor.observe(obs(["a"], emotives={"joy": 1.5e308}))
    assert processor.cognition_data()["emotives"] == {"joy": 1.5e308}
    state = processor.export_state()
    target = make_processor()
    target.import_state(json.loads(json.dumps(state, allow_nan=False)))
    assert target.export_state() == state
