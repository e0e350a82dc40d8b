"""Genes at the HTTP edge: out-of-range values are refused and change nothing, and whatever the
service accepts can always be read back (``/state``, ``/gene``, ``/status``, ``/predictions``)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kato.processor.genes import GENES, READ_ONLY
from tests.unit.kato.services.app_helpers import learn_abc, observe

READS = ("/state", "/status", "/predictions", "/stm", "/cognition-data")


def _reads_answer(client: TestClient) -> None:
    for path in READS:
        assert client.get(path).status_code == 200, path
    for name in (*GENES, *READ_ONLY):
        assert client.get(f"/gene/{name}").status_code == 200, name


def test_a_gene_beyond_64_bits_is_refused_and_changes_nothing(client: TestClient) -> None:
    learn_abc(client)
    observe(client, "a", "b")
    before = client.get("/state").json()
    answer = client.post("/genes/update", json={"genes": {"max_pattern_length": 2**64}})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "KATO_INVALID_GENE_VALUE"
    assert "between 0 and 2147483647" in answer.json()["error"]["message"]
    assert client.get("/state").json() == before
    _reads_answer(client)


def test_a_snapshot_beyond_64_bits_is_refused(client: TestClient) -> None:
    state = client.get("/state").json()
    answer = client.put("/state", json={**state, "time": 2**64})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "KATO_INVALID_STATE"
    assert client.get("/state").json() == state


@pytest.fixture
def learned(client: TestClient) -> tuple[TestClient, dict[str, Any]]:
    learn_abc(client)
    return client, client.get("/state").json()


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
NAMES = st.sampled_from([*GENES, *READ_ONLY]) | st.text(max_size=12)
# Values near every bound: 0, ±1, the 32- and 64-bit limits and beyond.
EDGES = st.sampled_from(
    [0, 1, -1, 100, 101, 10000, 10001, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1,
     0.0, 1.0, 1.5, -0.5, 1e308, True, False, "none", "VI", "adaptive"]
)


@settings(
    max_examples=50,
    deadline=None,
    # One app for all examples: each starts from the same snapshot (PUT /state restores all).
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(updates=st.dictionaries(NAMES, EDGES | JSON, min_size=1, max_size=4))
def test_every_accepted_update_leaves_every_read_answering(
    learned: tuple[TestClient, dict[str, Any]], updates: dict[str, Any]
) -> None:
    client, before = learned
    assert client.put("/state", json=before).status_code == 200
    answer = client.post("/genes/update", json={"genes": updates})
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert client.get("/state").json() == before
    observe(client, "a", "b")
    _reads_answer(client)
    snapshot = client.get("/state").json()
    assert client.put("/state", json=snapshot).status_code == 200
    assert client.get("/state").json() == snapshot
