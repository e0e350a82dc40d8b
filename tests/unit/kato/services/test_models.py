"""ObservationData and friends: strict strings, finite numbers, equal vectors, limits."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kato.services.models import ObservationData, ObserveSequenceRequest, RequestLimits, WsMessage

LIMITS = RequestLimits(
    max_symbols_per_event=3,
    max_symbol_length=4,
    max_vectors=2,
    max_vector_dim=3,
    max_emotives=1,
    max_sequence_length=2,
)


def parse(raw: str, limits: RequestLimits | None = LIMITS) -> ObservationData:
    return ObservationData.model_validate_json(raw, context=limits)


def error_types(raw: str) -> list[str]:
    with pytest.raises(ValidationError) as failure:
        parse(raw)
    return [err["type"] for err in failure.value.errors()]


def test_missing_fields_default_to_empty() -> None:
    data = parse("{}")
    assert (data.strings, data.vectors, data.emotives, data.unique_id) == ([], [], {}, None)


def test_numbers_become_floats() -> None:
    data = parse('{"vectors": [[1, 0, "2.5"]], "emotives": {"joy": 3}}')
    assert data.vectors == [[1.0, 0.0, 2.5]]
    assert all(isinstance(v, float) for v in data.vectors[0])
    assert data.emotives == {"joy": 3.0}


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ('{"strings": [1]}', "string_type"),
        ('{"strings": [true]}', "string_type"),
        ('{"vectors": [[1, "x"]]}', "number_type"),
        ('{"vectors": [[NaN]]}', "finite_number"),
        ('{"emotives": {"a": "Infinity"}}', "number_type"),
        ('{"emotives": {"a": " 1"}}', "number_type"),
        ('{"emotives": {"a": false}}', "float_type"),  # lax parsing once took it for 0.0
        ('{"vectors": [[true]]}', "float_type"),
        ('{"emotives": {"a": -1e400}}', "finite_number"),
        ('{"vectors": [[1, 2], [3]]}', "unequal_vector_lengths"),
        ('{"unique_id": 5}', "string_type"),
    ],
)
def test_wrong_values_are_rejected(raw: str, kind: str) -> None:
    assert error_types(raw) == [kind]


@pytest.mark.parametrize(
    "raw",
    [
        '{"strings": ["a", "b", "c", "d"]}',
        '{"strings": ["abcde"]}',
        '{"vectors": [[1], [2], [3]]}',
        '{"vectors": [[1, 2, 3, 4]]}',
        '{"emotives": {"a": 1, "b": 2}}',
        '{"emotives": {"abcde": 1}}',
        '{"unique_id": "abcde"}',
    ],
)
def test_limits_apply_with_context(raw: str) -> None:
    assert error_types(raw) in (["too_many"], ["symbol_too_long"])
    parse(raw, limits=None)  # no context, no limits


def test_sequence_limit_and_nested_validation() -> None:
    with pytest.raises(ValidationError) as failure:
        ObserveSequenceRequest.model_validate({"observations": [{}, {}, {}]}, context=LIMITS)
    assert failure.value.errors()[0]["type"] == "too_many"
    with pytest.raises(ValidationError) as failure:
        ObserveSequenceRequest.model_validate(
            {"observations": [{}, {"strings": [1]}]}, context=LIMITS
        )
    assert failure.value.errors()[0]["loc"] == ("observations", 1, "strings", 0)


@pytest.mark.parametrize("raw", [{"payload": {}}, {"type": 3}, {"type": "ping", "payload": []}])
def test_ws_message_shape(raw: Any) -> None:
    with pytest.raises(ValidationError):
        WsMessage.model_validate(raw)
    assert WsMessage.model_validate({"type": "ping"}).payload == {}
