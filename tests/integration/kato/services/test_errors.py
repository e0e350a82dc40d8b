"""One test per class of bad input: the JSON error shape, and nothing changed in the processor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.error_bodies import stable
from tests.integration.kato.services.snapshot import observable_state, teach


@pytest.fixture
def primed(client: httpx.Client) -> httpx.Client:
    """A processor with a pattern, STM content, predictions and emotives to lose."""
    teach(client, ["a", "b", "c"])
    client.post("/observe", json={"strings": ["a"], "emotives": {"joy": 1.0}}).raise_for_status()
    client.post("/observe", json={"strings": ["b"]}).raise_for_status()
    return client


def assert_error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert answer.headers["x-trace-id"]
    return body


def assert_validation_error(answer: httpx.Response) -> dict[str, Any]:
    body = assert_error(answer, 422, "KATO_VALIDATION_ERROR")
    assert body["error"]["details"]["errors"] == body["detail"]
    assert all(err["loc"][0] == "body" for err in body["detail"])
    return body


BAD_OBSERVATIONS = {
    "number_as_string": b'{"strings": [1]}',
    "strings_not_a_list": b'{"strings": "abc"}',
    "vector_text": b'{"vectors": [[1.0, "abc"]]}',
    "emotive_text": b'{"emotives": {"joy": "lots"}}',
    "nan_literal": b'{"vectors": [[1.0, NaN]]}',
    "infinity_literal": b'{"emotives": {"joy": Infinity}}',
    "nan_string": b'{"emotives": {"joy": "NaN"}}',
    "overflow_to_infinity": b'{"vectors": [[1e999]]}',
    "unequal_vectors": b'{"vectors": [[1.0, 2.0], [1.0]]}',
    "not_json": b"strings=a",
    "not_an_object": b"[1, 2]",
    "unique_id_number": b'{"strings": ["a"], "unique_id": 7}',
}


@pytest.mark.parametrize("raw", BAD_OBSERVATIONS.values(), ids=BAD_OBSERVATIONS.keys())
def test_malformed_observation_is_422_and_changes_nothing(primed: httpx.Client, raw: bytes) -> None:
    before = observable_state(primed)
    answer = primed.post("/observe", content=raw, headers={"content-type": "application/json"})
    assert_validation_error(answer)
    assert observable_state(primed) == before


def test_unequal_vectors_name_the_lengths(primed: httpx.Client) -> None:
    answer = primed.post("/observe", json={"vectors": [[1.0, 2.0], [1.0]]})
    error = assert_validation_error(answer)["detail"][0]
    assert error["loc"] == ["body", "vectors"]
    assert error["ctx"] == {"lengths": [2, 1]}


@pytest.mark.parametrize(
    "body",
    [
        {"strings": ["s"] * 1001},
        {"strings": ["x" * 1025]},
        {"vectors": [[1.0]] * 65},
        {"vectors": [[0.0] * 4097]},
        {"emotives": {f"e{i}": 1.0 for i in range(65)}},
    ],
    ids=["symbols", "symbol_length", "vectors", "vector_dim", "emotives"],
)
def test_over_limit_observation_is_422(primed: httpx.Client, body: dict[str, Any]) -> None:
    before = observable_state(primed)
    assert_validation_error(primed.post("/observe", json=body))
    assert observable_state(primed) == before


def test_oversized_body_is_413(primed: httpx.Client) -> None:
    before = observable_state(primed)
    big = b'{"strings": ["' + b"x" * (4 * 1024 * 1024) + b'"]}'
    answer = primed.post("/observe", content=big, headers={"content-type": "application/json"})
    body = assert_error(answer, 413, "KATO_PAYLOAD_TOO_LARGE")
    assert stable(body)["error"]["details"] == {"limit_bytes": 4 * 1024 * 1024}
    assert observable_state(primed) == before


def test_oversized_chunked_body_is_413(primed: httpx.Client) -> None:
    """No Content-Length: the streamed size is checked as it arrives."""
    before = observable_state(primed)

    def chunks() -> Iterator[bytes]:
        yield b'{"strings": ["'
        for _ in range(5):
            yield b"x" * (1024 * 1024)
        yield b'"]}'

    answer = primed.post("/observe", content=chunks(), headers={"content-type": "application/json"})
    assert_error(answer, 413, "KATO_PAYLOAD_TOO_LARGE")
    assert observable_state(primed) == before


def test_bad_element_in_sequence_processes_nothing(primed: httpx.Client) -> None:
    before = observable_state(primed)
    body = {"observations": [{"strings": ["c"]}, {"strings": ["d"]}, {"strings": [5]}]}
    answer = primed.post("/observe-sequence", json={**body, "learn_at_end": True})
    error = assert_validation_error(answer)["detail"][0]
    assert error["loc"] == ["body", "observations", 2, "strings", 0]
    assert observable_state(primed) == before


def test_too_long_sequence_is_422(primed: httpx.Client) -> None:
    before = observable_state(primed)
    answer = primed.post("/observe-sequence", json={"observations": [{}] * 1001})
    assert_validation_error(answer)
    assert observable_state(primed) == before


def test_unknown_gene_is_400_and_nothing_applied(primed: httpx.Client) -> None:
    before = observable_state(primed)
    answer = primed.post("/genes/update", json={"genes": {"recall_threshold": 0.9, "bogus": 1}})
    body = assert_error(answer, 400, "KATO_UNKNOWN_GENE")
    assert body["error"]["message"] == "Unknown gene: bogus"
    assert observable_state(primed) == before


@pytest.mark.parametrize(
    "genes",
    [{"recall_threshold": "0.5"}, {"recall_threshold": 1.5}, {"max_predictions": 0}],
    ids=["string", "out_of_range", "zero_cap"],
)
def test_bad_gene_value_is_400(primed: httpx.Client, genes: dict[str, Any]) -> None:
    before = observable_state(primed)
    assert_error(
        primed.post("/genes/update", json={"genes": genes}), 400, "KATO_INVALID_GENE_VALUE"
    )
    assert observable_state(primed) == before


def test_genes_body_without_genes_is_422(primed: httpx.Client) -> None:
    before = observable_state(primed)
    assert_validation_error(primed.post("/genes/update", json={"recall_threshold": 0.5}))
    assert observable_state(primed) == before


@pytest.mark.parametrize(
    "raw", [b"[1]", b"not json", b'{"version": 999}', b'{"stm": "x"}'], ids=str
)
def test_bad_state_is_422_and_changes_nothing(primed: httpx.Client, raw: bytes) -> None:
    before = observable_state(primed)
    answer = primed.put("/state", content=raw, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] in ("KATO_VALIDATION_ERROR", "KATO_INVALID_STATE")
    assert observable_state(primed) == before


def test_unknown_pattern_and_gene_are_404(client: httpx.Client) -> None:
    body = assert_error(client.get("/pattern/PTRN%7Cdeadbeef"), 404, "KATO_PATTERN_NOT_FOUND")
    assert body["error"]["message"] == "Pattern PTRN|deadbeef not found"
    body = assert_error(client.get("/gene/nope"), 404, "KATO_GENE_NOT_FOUND")
    assert body["error"]["message"] == "Gene nope not found"


def test_unknown_route_and_wrong_method(client: httpx.Client) -> None:
    assert assert_error(client.get("/no-such"), 404, "KATO_NOT_FOUND")["detail"] == "Not Found"
    body = assert_error(client.get("/learn"), 405, "KATO_METHOD_NOT_ALLOWED")
    assert body["detail"] == "Method Not Allowed"


def test_trace_id_is_echoed(client: httpx.Client) -> None:
    assert client.get("/status", headers={"X-Trace-ID": "abc-1"}).headers["x-trace-id"] == "abc-1"
    assert client.get("/no-such").headers["x-trace-id"].startswith("kato-")
