"""The processor's probes (``/health/live``, ``/health/startup``, ``/health/ready``): open without
the token, and startup and ready are 503 until the processor is open."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kato.contract import LIVE_PATH, PROBE_PATHS, READY_PATH, STARTUP_PATH
from kato.services.app import create_app
from kato.services.settings import ServiceSettings
from tests.unit.kato.services.app_helpers import MakeClient


def test_every_probe_answers_without_the_token(make_client: MakeClient) -> None:
    client = make_client(KATO_PROCESSOR_TOKEN="s3cret")
    assert client.get("/stm").status_code == 401  # the token is enforced elsewhere
    answers = {path: client.get(path) for path in sorted(PROBE_PATHS)}
    assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(answers, 200)
    assert answers[LIVE_PATH].json() == {"status": "live"}
    for path, status in ((STARTUP_PATH, "started"), (READY_PATH, "ready")):
        body = answers[path].json()
        assert (body["status"], body["processor_id"]) == (status, "unit"), path


@pytest.mark.parametrize("path", [STARTUP_PATH, READY_PATH])
def test_startup_and_ready_are_503_until_the_processor_is_open(path: str) -> None:
    client = TestClient(create_app(ServiceSettings(processor_id="unit")))  # lifespan not run
    assert client.get(LIVE_PATH).status_code == 200
    answer = client.get(path)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "KATO_NOT_READY"
