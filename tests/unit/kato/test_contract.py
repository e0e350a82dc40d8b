"""kato/contract.py: the rules the processor and the platform share, and that the processor's
own layers (gene table, start-up settings, routes) follow them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from kato import contract
from kato.processor import InvalidGeneValueError, KatoError, KatoProcessor, ValidationError
from kato.processor.genes import validate_updates
from kato.processor.store.memory import MemoryStore
from kato.services.app import create_app
from kato.services.settings import ServiceSettings
from tests.error_bodies import stable

# -- processor ids -----------------------------------------------------------------------------

#: (id, the processor accepts it, the platform launches a processor under it)
IDS = [
    ("ab", True, True),
    ("0a1b2c3d4e5f", True, True),  # the platform's own ids: 12 hex digits
    ("p-1_a-b", True, True),
    ("a" * 63, True, True),
    ("a.b", False, False),  # a dot: no MongoDB database name, no Swarm service name
    ("p-1.a_b", False, False),
    ("Ab", True, False),  # upper case: the engine's DNS would confuse kato-Ab and kato-ab
    ("a" * 64, True, False),  # longer than a DNS label
    ("a" * 65, False, False),
    ("-a", True, False),
    ("a-", True, False),
    ("a_", True, False),
    ("", False, False),
    ("a/b", False, False),
    ("../x", False, False),
    ("a b", False, False),
    ("ab\n", False, False),
]


@pytest.mark.parametrize(("value", "processor", "platform"), IDS)
def test_the_processor_id_rules(value: str, processor: bool, platform: bool) -> None:
    assert contract.is_processor_id(value) is processor
    assert contract.is_platform_processor_id(value) is platform


@given(st.from_regex(contract.PLATFORM_PROCESSOR_ID_PATTERN, fullmatch=True))
def test_every_id_the_platform_launches_is_accepted_by_the_processor(value: str) -> None:
    assert contract.is_processor_id(value)
    assert ServiceSettings(PROCESSOR_ID=value).processor_id == value


@pytest.mark.parametrize(("value", "processor", "_"), IDS)
def test_the_processor_settings_follow_the_rule(value: str, processor: bool, _: bool) -> None:
    if processor:
        assert ServiceSettings(PROCESSOR_ID=value).processor_id == value
    else:
        with pytest.raises(ValueError, match=contract.ENV_PROCESSOR_ID):
            ServiceSettings(PROCESSOR_ID=value)


# -- genes -------------------------------------------------------------------------------------

RANGES: dict[str, contract.IntRange | contract.FloatRange] = {
    "max_pattern_length": contract.MAX_PATTERN_LENGTH_RANGE,
    "persistence": contract.PERSISTENCE_RANGE,
    "recall_threshold": contract.RECALL_THRESHOLD_RANGE,
    "max_predictions": contract.MAX_PREDICTIONS_RANGE,
    "smoothness": contract.SMOOTHNESS_RANGE,
    "quiescence": contract.QUIESCENCE_RANGE,
    "search_depth": contract.SEARCH_DEPTH_RANGE,
    "auto_act_threshold": contract.AUTO_ACT_THRESHOLD_RANGE,
}


def _outside(bounds: contract.IntRange | contract.FloatRange) -> tuple[float, float]:
    step = 1 if isinstance(bounds, contract.IntRange) else 1e-6
    return bounds.low - step, bounds.high + step


@pytest.mark.parametrize("gene", RANGES)
def test_the_gene_table_takes_exactly_the_contract_ranges(gene: str) -> None:
    bounds = RANGES[gene]
    assert validate_updates({gene: bounds.low}) == {gene: bounds.low}
    assert validate_updates({gene: bounds.high}) == {gene: bounds.high}
    for value in _outside(bounds):
        with pytest.raises(InvalidGeneValueError):
            validate_updates({gene: value})


STARTUP_GENES = [g for g in contract.GENE_ENV if g in RANGES]


@pytest.mark.parametrize("gene", STARTUP_GENES)
def test_start_up_settings_read_each_gene_from_its_variable_within_its_range(
    gene: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounds = RANGES[gene]
    monkeypatch.setenv(contract.GENE_ENV[gene], str(bounds.high))
    assert getattr(ServiceSettings(PROCESSOR_ID="p"), gene) == bounds.high
    for value in _outside(bounds):
        monkeypatch.setenv(contract.GENE_ENV[gene], str(value))
        with pytest.raises(ValueError, match=contract.GENE_ENV[gene]):
            ServiceSettings(PROCESSOR_ID="p")


@pytest.mark.parametrize(
    ("variable", "text", "field", "value"),
    [
        (contract.GENE_ENV["sort"], "false", "sort", False),
        (contract.ENV_SORT_ALIAS, "false", "sort", False),
        (contract.GENE_ENV["use_indexing"], "false", "use_indexing", False),
        (contract.GENE_ENV["processor_name"], "alpha", "processor_name", "alpha"),
        (contract.ENV_TOKEN, "s3cret", "processor_token", "s3cret"),
    ],
)
def test_start_up_settings_read_the_other_variables_the_platform_sets(
    variable: str, text: str, field: str, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, text)
    assert getattr(ServiceSettings(PROCESSOR_ID="p"), field) == value


# -- error body --------------------------------------------------------------------------------


def test_the_error_body_shape() -> None:
    details = {"gene": "x"}
    token = contract.trace_id_var.set("4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        body = contract.error_body("KATO_X", "went wrong", 418, details)
    finally:
        contract.trace_id_var.reset(token)
    timestamp = body["error"].pop("timestamp")
    assert body == {
        "error": {
            "code": "KATO_X",
            "message": "went wrong",
            "details": {"gene": "x", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"},
        },
        "status": 418,
    }
    # UTC, ISO 8601, milliseconds: the moment the error was made.
    made = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    assert timestamp.endswith("Z") and abs(datetime.now(UTC) - made) < timedelta(minutes=1)
    body["error"]["details"]["more"] = 1
    assert details == {"gene": "x"}  # the caller's mapping is never shared
    # Outside a request there is no trace: the field is there, null.
    assert contract.error_body("KATO_X", "m", 500)["error"]["details"] == {"trace_id": None}


def test_processor_errors_answer_with_the_contract_body() -> None:
    error: KatoError = ValidationError("bad", {"field": "strings"})
    assert stable(error.to_dict(), in_request=False) == stable(
        contract.error_body("KATO_VALIDATION_ERROR", "bad", 422, {"field": "strings"}),
        in_request=False,
    )


# -- paths -------------------------------------------------------------------------------------


def test_the_processor_serves_every_path_the_platform_calls() -> None:
    settings = ServiceSettings(PROCESSOR_ID="paths")
    app = create_app(settings, lambda c: KatoProcessor(c.processor_config(), MemoryStore()))
    with TestClient(app) as client:
        assert client.get(contract.HEALTH_PATH).status_code == 200
        state = client.get(contract.STATE_PATH)
        assert state.status_code == 200
        assert client.put(contract.STATE_PATH, content=state.content).status_code == 200
        genes = {"genes": {"persistence": contract.PERSISTENCE_RANGE.high}}
        assert client.post(contract.GENES_UPDATE_PATH, json=genes).status_code == 200
        exported = client.get(contract.EXPORT_PATH)
        assert exported.status_code == 200
        assert client.put(contract.IMPORT_PATH, content=exported.content).status_code == 200
        with client.websocket_connect(contract.WS_PATH) as ws:
            ws.send_json({"type": "ping"})
            assert ws.receive_json()["type"] == "pong"
