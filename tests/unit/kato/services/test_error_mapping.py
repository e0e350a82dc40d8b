"""Every failure maps onto {"error": {code, message, details}, "status"} with the right status."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient

from kato.processor.store.base import PatternRecord, StateWrite, SymbolRecord, Totals
from kato.processor.store.memory import MemoryStore
from kato.services.runtime import Runtime
from tests.error_bodies import stable
from tests.unit.kato.services.app_helpers import MakeClient, observe


class BrokenDisk(MemoryStore):
    """Saving a learned pattern fails, as a full or vanished disk would."""

    def save_learn(
        self,
        pattern: PatternRecord,
        symbols: Sequence[SymbolRecord],
        totals: Totals,
        state: StateWrite | None = None,
    ) -> None:
        raise OSError("disk full")


def test_storage_failure_is_503_and_keeps_stm(make_client: MakeClient) -> None:
    client: TestClient = make_client(store=BrokenDisk())
    observe(client, "a", "b")
    answer = client.post("/learn")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "KATO_STORAGE_ERROR"
    assert answer.json()["status"] == 503
    assert client.get("/stm").json()["stm"] == [["a"], ["b"]]


def test_unhandled_error_is_500_with_trace_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]

    def explode() -> dict[str, object]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(runtime.gate.processor, "percept_data", explode)
    answer = client.get("/percept-data", headers={"X-Trace-ID": "t-1"})
    assert answer.status_code == 500
    assert stable(answer.json()) == {
        "error": {
            "code": "KATO_INTERNAL_ERROR",
            "message": "An unexpected error occurred",
            "details": {"error": "RuntimeError"},
        },
        "status": 500,
    }
    assert answer.headers["x-trace-id"] == "t-1"


def test_validation_error_keeps_fastapi_detail(client: TestClient) -> None:
    body = client.post("/observe", json={"strings": [1, "a", 2]}).json()
    assert body["status"] == 422 and body["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert [e["loc"] for e in body["detail"]] == [["body", "strings", 0], ["body", "strings", 2]]
    assert body["error"]["details"]["errors"] == body["detail"]
    assert "strings.0" in body["error"]["message"]


def test_missing_body_is_422(client: TestClient) -> None:
    answer = client.post("/genes/update", content=b"")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "KATO_VALIDATION_ERROR"


def test_content_length_over_limit_is_413(make_client: MakeClient) -> None:
    client: TestClient = make_client(KATO_MAX_BODY_BYTES=10)
    answer = client.post("/observe", json={"strings": ["abcdefghijkl"]})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "KATO_PAYLOAD_TOO_LARGE"
    assert client.get("/status").json()["time"] == 0


def test_storage_failure_mid_sequence_says_how_far_it_got(make_client: MakeClient) -> None:
    client: TestClient = make_client(store=BrokenDisk())
    body = {
        "observations": [{"strings": ["a", "b"]}, {"strings": ["c", "d"]}],
        "learn_after_each": True,
    }
    answer = client.post("/observe-sequence", json=body)
    assert answer.status_code == 503
    error = stable(answer.json())["error"]
    assert error["code"] == "KATO_STORAGE_ERROR"
    # The first observation is processed, its learn fails: the second is never observed and
    # the STM still holds the first, so nothing is lost.
    assert error["details"] == {
        "error": "OSError",
        "observations_processed": 1,
        "patterns_learned": [],
    }
    assert client.get("/stm").json()["stm"] == [["a", "b"]]
