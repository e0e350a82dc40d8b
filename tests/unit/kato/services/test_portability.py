"""GET /export and PUT/POST /import through the app (in process, real engine, memory store)."""

from __future__ import annotations

import gc
import random
import weakref
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kato.processor.portability import MEDIA_TYPE
from tests.error_bodies import stable
from tests.unit.kato.services.app_helpers import MakeClient, learn_abc, observe

NDJSON = {"content-type": MEDIA_TYPE}


def _answers(client: TestClient, pattern: str) -> dict[str, Any]:
    """What a client sees (processor ids aside)."""
    return {
        "stm": client.get("/stm").json()["stm"],
        "predictions": client.get("/predictions").json()["predictions"],
        "pattern": client.get(f"/pattern/{pattern.replace('|', '%7C')}").json()["pattern"],
        "genes": client.get("/gene/recall_threshold").json()["gene_value"],
        "status": {k: v for k, v in client.get("/status").json().items() if k == "time"},
        "cognition": client.get("/cognition-data").json()["cognition_data"],
    }


def _trained(client: TestClient) -> str:
    name = learn_abc(client)
    client.post("/genes/update", json={"genes": {"recall_threshold": 0.2}})
    client.post("/observe", json={"strings": ["a"], "emotives": {"joy": 0.5}})
    observe(client, "b")
    return name


def test_export_then_import_gives_the_same_answers(make_client: MakeClient) -> None:
    source, target = make_client(), make_client()
    name = _trained(source)
    exported = source.get("/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith(MEDIA_TYPE)
    observe(target, "x", "y")
    answer = target.put("/import", content=exported.content, headers=NDJSON)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "okay", "message": "memory-imported", "processor_id": "unit",
        "patterns": 1, "symbols": 3,
    }
    assert _answers(target, name) == _answers(source, name)
    assert target.get("/export").content == exported.content


def test_post_import_is_the_same_as_put(make_client: MakeClient) -> None:
    source, target = make_client(), make_client()
    name = _trained(source)
    assert target.post("/import", content=source.get("/export").content).status_code == 200
    assert _answers(target, name) == _answers(source, name)


def test_truncated_exports_are_422_and_change_nothing(make_client: MakeClient) -> None:
    source, target = make_client(), make_client()
    _trained(source)
    data = source.get("/export").content
    learn_abc(target)
    before = target.get("/export").content
    for offset in random.Random(5).sample(range(len(data)), 15):
        answer = target.put("/import", content=data[:offset])
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "KATO_INVALID_EXPORT"
    assert target.put("/import", content=b"").status_code == 422
    assert target.get("/export").content == before


def test_import_above_the_limit_is_413_and_changes_nothing(make_client: MakeClient) -> None:
    source = make_client()
    _trained(source)
    data = source.get("/export").content
    target = make_client(KATO_MAX_IMPORT_BYTES=len(data) - 1)
    before = target.get("/export").content
    answer = target.put("/import", content=data)
    assert answer.status_code == 413
    assert stable(answer.json())["error"] == {
        "code": "KATO_PAYLOAD_TOO_LARGE",
        "message": f"Request body of {len(data)} bytes exceeds the limit of {len(data) - 1} bytes",
        "details": {"limit_bytes": len(data) - 1},
    }

    def chunked() -> Any:  # no content-length: the streamed size is what counts
        yield data[:100]
        yield data[100:]

    assert target.put("/import", content=chunked()).status_code == 413
    assert target.get("/export").content == before
    assert make_client(KATO_MAX_IMPORT_BYTES=len(data)).put("/import", content=data).is_success


@pytest.mark.parametrize(("method", "path"), [("GET", "/export"), ("PUT", "/import")])
def test_export_and_import_need_the_token(make_client: MakeClient, method: str, path: str) -> None:
    client = make_client(KATO_PROCESSOR_TOKEN="secret")
    assert client.request(method, path).status_code == 401


def test_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/import"]) == {"put", "post"}
    assert MEDIA_TYPE in paths["/export"]["get"]["responses"]["200"]["content"]


def test_the_replaced_memory_is_freed(make_client: MakeClient) -> None:
    """The lifespan freezes the heap (gc.freeze); an import must not keep the old index."""
    source, target = make_client(), make_client()
    _trained(source)
    learn_abc(target)
    old = weakref.ref(target.app.state.runtime.gate.processor._kb)  # type: ignore[attr-defined]
    gc.collect()
    gc.freeze()
    assert target.put("/import", content=source.get("/export").content).status_code == 200
    assert old() is None
