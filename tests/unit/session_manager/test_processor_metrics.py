"""`GET /metrics/processors`: each running processor's samples labelled by session, without
resetting any session's idle time; one that does not answer is up 0, the rest still served."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.unit.session_manager.fake_processor import FakeProcessor


def test_processor_metrics_are_labelled_by_session_and_reset_no_idle_time(
    client: TestClient, processor: FakeProcessor
) -> None:
    created = client.post("/session/create", json={}).json()
    session_id = created["session_id"]
    client.post(f"/session/{session_id}/observe", json={"strings": ["a"]})
    idle_before = client.get(f"/session/{session_id}").json()["last_activity"]
    text = client.get("/metrics/processors").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (up,) = families["kato_processor_metrics_up"].samples
    assert (up.labels, up.value) == ({"session_id": session_id}, 1)
    (stm,) = families["kato_stm_size"].samples
    assert (stm.labels, stm.value) == ({"session_id": session_id}, 1)
    assert families["kato_http_requests"].samples[0].labels == {
        "route": "/stm",
        "session_id": session_id,
    }
    assert client.get(f"/session/{session_id}").json()["last_activity"] == idle_before


def test_a_processor_that_does_not_answer_is_up_0_and_the_rest_still_served(
    client: TestClient, processor: FakeProcessor
) -> None:
    session_id = client.post("/session/create", json={}).json()["session_id"]
    processor.metrics_down = True
    answer = client.get("/metrics/processors")
    assert answer.status_code == 200
    assert f'kato_processor_metrics_up{{session_id="{session_id}"}} 0.0' in answer.text
    assert "kato_stm_size" not in answer.text


def test_no_running_session_no_processor_samples(client: TestClient) -> None:
    text = client.get("/metrics/processors").text
    assert [f.name for f in text_string_to_metric_families(text)] == ["kato_processor_metrics_up"]
