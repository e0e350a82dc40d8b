"""Response shapes of every endpoint (spec §7), with the QUIRK-11 fix (fresh, prefixed names)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kato.services import lane, routes
from tests.error_bodies import stable
from tests.unit.kato.services.app_helpers import MakeClient, learn_abc, observe


def test_health_and_status(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "healthy" and health["processor_id"] == "unit"
    assert isinstance(health["uptime"], float)
    observe(client, "a")
    status = client.get("/status").json()
    assert {k: status[k] for k in ("status", "processor_id", "processor_name", "stm_length")} == {
        "status": "okay",
        "processor_id": "unit",
        "processor_name": "KatoProcessor",
        "stm_length": 1,
    }
    assert status["time"] == 1


def test_observe_shape_and_generated_id(client: TestClient) -> None:
    body = client.post("/observe", json={"strings": ["b", "a"]}).json()
    assert set(body) == {"status", "processor_id", "auto_learned_pattern", "time", "unique_id"}
    assert body["unique_id"].startswith("obs-") and len(body["unique_id"].split("-")[1]) == 32
    assert body["auto_learned_pattern"] is None
    assert client.post("/observe", json={"unique_id": ""}).json()["unique_id"].startswith("obs-")
    assert client.post("/observe", json={"unique_id": "mine"}).json()["unique_id"] == "mine"


def test_empty_observation_leaves_stm_alone(client: TestClient) -> None:
    observe(client, "a")
    assert client.post("/observe", json={}).status_code == 200
    assert client.get("/stm").json() == {"stm": [["a"]], "processor_id": "unit"}


def test_learn_messages(client: TestClient) -> None:
    observe(client, "a")
    assert client.post("/learn").json() == {
        "pattern_name": "",
        "processor_id": "unit",
        "message": "Insufficient data for learning",
    }
    name = learn_abc(client)
    assert name.startswith("PTRN|")
    assert client.get("/short-term-memory").json()["stm"] == []


def test_predictions_pattern_and_cognition_use_prefixed_names(client: TestClient) -> None:
    name = learn_abc(client)
    observe(client, "a")
    uid = client.post("/observe", json={"strings": ["b"], "unique_id": "u"}).json()["unique_id"]
    for answer in (
        client.get("/predictions"),
        client.post("/predictions"),
        client.get("/predictions", params={"unique_id": uid}),
    ):
        assert [p["name"] for p in answer.json()["predictions"]] == [name]
    assert client.get("/predictions", params={"unique_id": "unknown"}).json()["predictions"] == []
    cognition = client.get("/cognition-data").json()["cognition_data"]
    assert [p["name"] for p in cognition["predictions"]] == [name]
    assert cognition["short_term_memory"] == [["a"], ["b"]]
    bare = name.removeprefix("PTRN|")
    for pattern_id in (name.replace("|", "%7C"), bare):
        record = client.get(f"/pattern/{pattern_id}").json()
        assert record["pattern"]["name"] == name
        assert record["pattern"]["pattern_data"] == [["a"], ["b"], ["c"]]


def test_observe_sequence(client: TestClient) -> None:
    name = learn_abc(client)
    body = {
        "observations": [{"strings": ["a"]}, {"strings": ["b"]}],
        "learn_at_end": True,
    }
    result = client.post("/observe-sequence", json=body).json()
    assert result["observations_processed"] == 2
    assert [r["time"] for r in result["individual_results"]] == [4, 5]
    assert result["individual_results"][0]["unique_id"].startswith("batch-obs-0-")
    assert len(result["patterns_learned"]) == 1
    (prediction,) = result["final_predictions"]
    assert prediction["name"] == name and prediction["pattern_name"] == name.removeprefix("PTRN|")
    # the cached objects were not renamed (QUIRK-11 fixed)
    assert client.get("/predictions").json()["predictions"][0]["name"] == name


def test_observe_sequence_clear_and_learn_each_gives_null(client: TestClient) -> None:
    body = {
        "observations": [{"strings": ["a", "b"]}, {"strings": ["c", "d"]}],
        "learn_after_each": True,
        "clear_stm_between": True,
    }
    result = client.post("/observe-sequence", json=body).json()
    assert result["final_predictions"] is None
    assert len(result["patterns_learned"]) == 2


def test_clear_endpoints_and_aliases(client: TestClient) -> None:
    learn_abc(client)
    for path, message in (
        ("/clear-stm", "stm-cleared"),
        ("/clear-short-term-memory", "stm-cleared"),
        ("/clear-all", "all-cleared"),
        ("/clear-all-memory", "all-cleared"),
    ):
        answer = client.post(path).json()
        assert answer == {"status": "okay", "message": message, "processor_id": "unit"}
    assert client.get("/metrics").json()["patterns_learned"] == 0


def test_genes(client: TestClient) -> None:
    answer = client.post("/genes/update", json={"genes": {"recall_threshold": 0.5}})
    assert answer.json() == {"status": "okay", "message": "genes-updated", "processor_id": "unit"}
    assert client.get("/gene/recall_threshold").json() == {
        "gene_name": "recall_threshold",
        "gene_value": 0.5,
        "processor_id": "unit",
    }


def test_percept_data(client: TestClient) -> None:
    assert client.get("/percept-data").json() == {"percept_data": {}, "processor_id": "unit"}
    client.post("/observe", json={"strings": ["b", "a"], "emotives": {"joy": 1}})
    percept = client.get("/percept-data").json()["percept_data"]
    assert percept["strings"] == ["b", "a"] and percept["emotives"] == {"joy": 1.0}
    assert percept["path"] == ["KatoProcessor-unit-process"]


def test_state_round_trip_in_process(make_client: MakeClient) -> None:
    first, second = make_client(), make_client()
    learn_abc(first)
    observe(first, "a", "b")
    snapshot = first.get("/state").json()
    assert second.put("/state", json=snapshot).json()["message"] == "state-restored"
    assert second.get("/state").json() == snapshot
    assert second.get("/stm").json()["stm"] == [["a"], ["b"]]


def test_openapi_documents_self_parsed_bodies(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    observe_body = schema["paths"]["/observe"]["post"]["requestBody"]["content"]
    assert observe_body["application/json"]["schema"]["$ref"].endswith("/ObservationData")
    for model in ("ObservationData", "ObserveSequenceRequest", "GenesUpdate", "StateSnapshot"):
        assert model in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_cors_allows_any_origin(client: TestClient) -> None:
    answer = client.get("/status", headers={"Origin": "https://example.org"})
    assert answer.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/observe",
        headers={"Origin": "https://x.org", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200


def test_direct_lane_answers_like_the_full_stack(client: TestClient) -> None:
    """Direct-lane routes skip the inner layers unless the request has an Origin (middleware)."""
    cors = {"access-control-allow-origin", "access-control-expose-headers"}
    volatile = {"time", "uptime", "unique_id"}
    for method, path, body in (
        ("POST", "/observe", {"strings": ["a"], "unique_id": "u"}),
        ("POST", "/observe", {"strings": [1]}),
        ("POST", "/observe", None),
        ("GET", "/stm", None),
        ("GET", "/short-term-memory", None),
        ("GET", "/status", None),
        ("GET", "/health", None),
        ("POST", "/clear-stm", None),
        ("POST", "/clear-short-term-memory", None),
        ("POST", "/learn", None),
    ):
        answers = [
            client.request(method, path, json=body, headers={"X-Trace-ID": "t", **origin})
            for origin in ({}, {"Origin": "https://x.org"})
        ]
        direct, full = (
            {k: v for k, v in stable(a.json()).items() if k not in volatile} for a in answers
        )
        assert (answers[0].status_code, direct) == (answers[1].status_code, full), path
        assert [
            (k, v) for k, v in answers[1].headers.multi_items()
            if k not in cors | {"content-length"}
        ] == [(k, v) for k, v in answers[0].headers.multi_items() if k != "content-length"]


def test_direct_lane_is_taken_for_hot_routes_without_origin(
    client: TestClient, lane_calls: list[str]
) -> None:
    """The comparison above holds trivially if the lane is never taken: check that it is."""
    assert {path for _, path in lane.lane_routes(routes.router.routes)} == lane.PATHS
    assert client.get("/stm").status_code == 200
    assert client.get("/stm", headers={"Origin": "https://x.org"}).status_code == 200
    assert client.get("/predictions").status_code == 200
    assert lane_calls == ["/stm"]


def test_prediction_log_is_packed_after_answering(client: TestClient) -> None:
    learn_abc(client)
    observe(client, "a")
    client.post("/observe", json={"strings": ["b"], "unique_id": "u"})
    latest = client.get("/predictions").json()["predictions"]
    log = client.app.state.runtime.gate.processor._state.log  # type: ignore[attr-defined]
    assert isinstance(log["u"], bytes)
    assert client.get("/predictions", params={"unique_id": "u"}).json()["predictions"] == latest


def test_response_models_are_documented_on_demand(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    health = schema["paths"]["/health"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/HealthResponse"
    )
    assert set(health) == {"200", "500"}  # no token, no lock, no store: nothing else
    learn = schema["paths"]["/learn"]["post"]["responses"]
    assert set(learn) == {"200", "401", "500", "503"}
    assert learn["503"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    assert set(schema["paths"]["/gene/{gene_name}"]["get"]["responses"]) == {
        "200", "401", "404", "422", "500"  # 422: FastAPI's own, for the path parameter
    }
    body = schema["paths"]["/genes/update"]["post"]["responses"]
    assert set(body) == {"200", "400", "401", "413", "422", "500", "503"}
    metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"application/json", "text/plain", "application/openmetrics-text"}
    prometheus = schema["paths"]["/metrics/prometheus"]["get"]["responses"]["200"]["content"]
    assert set(prometheus) == {"text/plain", "application/openmetrics-text"}
    assert "ObserveResponse" in schema["components"]["schemas"]
    assert client.get("/openapi.json").json() == schema



_SCHEMA_AFTER_A_REQUEST = """
import json
from fastapi.testclient import TestClient
from kato.services.app import create_app
from kato.services.settings import ServiceSettings
client = TestClient(create_app(ServiceSettings(processor_id="unit", LOG_LEVEL="CRITICAL")))
client.get("/health/live")  # a request first, then the schema
schema = client.get("/openapi.json").json()
print(json.dumps(sorted(schema["paths"]["/observe"]["post"]["responses"])))
"""


def test_the_schema_documents_every_answer_even_when_built_after_a_request() -> None:
    """FastAPI serves included routes through copies made at the first request: a schema
    built later must still list each route's error answers (it listed only 200). In a fresh
    process, since the routes are documented once per process."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _SCHEMA_AFTER_A_REQUEST], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == ["200", "401", "413", "422", "500", "503"]
