"""export_state / import_state: exact, JSON-serialisable, validated, atomic."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import jsonschema_rs
import pytest

from kato.processor import InvalidStateError, KatoProcessor
from kato.processor.state import state_schema
from tests.unit.kato.processor.helpers import learn_sequence, make_processor, obs, observe_all


def _busy_processor() -> KatoProcessor:
    processor = make_processor()
    learn_sequence(processor, "a", "b", "c")
    processor.observe(obs(["a"], [[1.0, 2.0]], {"joy": 0.5}, unique_id="first"))
    processor.observe(obs(["b"], emotives={"joy": 1}, unique_id="second"))
    processor.update_genes({"recall_threshold": 0.2, "sort": False})
    return processor


def test_round_trip_is_exact_and_json_serialisable() -> None:
    source = _busy_processor()
    state = source.export_state()
    assert state["version"] == 1
    assert json.loads(json.dumps(state)) == state
    target = make_processor()
    target.import_state(json.loads(json.dumps(state)))
    assert target.export_state() == state
    assert target.get_predictions() == source.get_predictions()
    assert target.get_predictions("second") == source.get_predictions("second")
    assert (target.stm, target.time) == (source.stm, source.time)
    assert target.cognition_data() == source.cognition_data()


def test_imported_state_keeps_working() -> None:
    source = _busy_processor()
    target = make_processor()
    learn_sequence(target, "a", "b", "c")
    target.import_state(source.export_state())
    assert target.learn() == source.learn()


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda s: s.update(version=99),
        lambda s: s.update(time=-1),
        lambda s: s.update(stm=[["a", 1]]),
        lambda s: s["genes"].update(recall_threshold=2.0),
        lambda s: s["genes"].pop("sort"),
        lambda s: s["genes"].update(bogus=1),
        lambda s: s["predictions"][0].pop("potential"),
        lambda s: s["prediction_log"].append({"unique_id": 3, "predictions": []}),
        lambda s: s.update(current_emotives={"x": "high"}),
        lambda s: s.pop("percept_data"),
        # Wider than 64 bits: accepted, these made every later GET /state answer 500.
        lambda s: s.update(time=2**64),
        lambda s: s["genes"].update(max_pattern_length=2**64),
        lambda s: s["predictions"][0].update(frequency=2**64),
        lambda s: s["predictions"][0].update(matches=[2**64]),
        lambda s: s["predictions"][0].update(past=[[None]]),
    ],
)
def test_invalid_state_is_rejected_without_change(corrupt: Any) -> None:
    state = _busy_processor().export_state()
    corrupt(state)
    target = make_processor()
    observe_all(target, "q", "r")
    before = copy.deepcopy(target.export_state())
    with pytest.raises(InvalidStateError) as raised:
        target.import_state(state)
    assert (raised.value.code, raised.value.status) == ("KATO_INVALID_STATE", 422)
    assert target.export_state() == before


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda s: s.update(prediction_log={}),  # an object where a list belongs
        lambda s: s["predictions"][0].update(emotives=[]),
    ],
)
def test_a_state_of_the_wrong_shape_is_rejected(corrupt: Any) -> None:
    state = _busy_processor().export_state()
    corrupt(state)
    with pytest.raises(InvalidStateError):
        make_processor().import_state(state)


def test_a_float_field_takes_an_integer_wider_than_64_bits_as_a_float() -> None:
    state = _busy_processor().export_state()
    state["predictions"][0]["potential"] = -(2**63) - 1
    target = make_processor()
    target.import_state(state)
    assert target.export_state()["predictions"][0]["potential"] == float(-(2**63) - 1)


def test_the_documented_schema_accepts_what_export_writes() -> None:
    jsonschema_rs.validate(state_schema(), _busy_processor().export_state())


def test_prediction_log_keeps_the_most_recent_ids() -> None:
    processor = make_processor(prediction_log_size=2)
    learn_sequence(processor, "a", "b", "c")
    for uid in ("one", "two", "three"):
        processor.clear_stm()
        processor.observe(obs(["a"], unique_id=f"{uid}-a"))
        processor.observe(obs(["b"], unique_id=uid))
    assert processor.get_predictions("one") == []
    assert processor.get_predictions("three") == processor.get_predictions()
    assert [e["unique_id"] for e in processor.export_state()["prediction_log"]] == [
        "two", "three"
    ]


def test_compacted_log_reads_and_exports_the_same() -> None:
    processor = _busy_processor()
    before = (processor.get_predictions("first"), processor.get_predictions("second"))
    state = processor.export_state()
    assert processor.log_pending
    processor.compact_log()
    assert not processor.log_pending
    assert all(isinstance(entry, bytes) for entry in processor._state.log.values())
    after = (processor.get_predictions("first"), processor.get_predictions("second"))
    assert after == before
    assert [type(p["potential"]) for p in after[1]] == [type(p["potential"]) for p in before[1]]
    assert processor.export_state() == state
    assert json.dumps(processor.export_state()) == json.dumps(state)
    assert processor.get_predictions("second") is not processor.get_predictions("second")


def test_imported_log_is_packed_unless_a_value_would_change() -> None:
    state = _busy_processor().export_state()
    state["prediction_log"][1]["predictions"][0]["emotives"] = {"joy": float("nan")}
    target = make_processor()
    target.import_state(state)
    first, second = (target._state.log[uid] for uid in ("first", "second"))
    assert isinstance(first, bytes) and isinstance(second, list)
    assert math.isnan(target.get_predictions("second")[0]["emotives"]["joy"])  # not JSON null
    assert target.get_predictions("first") == _busy_processor().get_predictions("first")
