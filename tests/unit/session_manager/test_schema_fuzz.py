"""Schema fuzzing (schemathesis) of the manager over real HTTP on loopback, fake engine behind:
every operation of its OpenAPI document, bounded in examples, is checked with all of
schemathesis's default checks (what a user's fuzzer runs): no server error, answers exactly as
documented (status, content type, headers, body schema, `Allow` of a 405), schema-violating
requests refused and schema-valid ones accepted.

Three rules a JSON schema cannot state: an import body is an export document (NDJSON), a
listing's `cursor` is one the manager made, and a root route's body is the processor's to
validate, so `positive_data_acceptance` runs as it is except for a 422 `KATO_INVALID_EXPORT`, a
malformed cursor's 422 and a root route's 422.

The fuzzer runs as the operator (no API key) and with a user token (`sub` "fuzz"), whose
answers (403 on the operator's routes, 404 for sessions it does not own) are documented too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

import tests.fuzz_support  # noqa: F401  (registers our media types)
from container_manager import KatoContainerManager
from kato.web.launcher import ThreadServer
from session_manager.api.root import TAG as ROOT_TAG
from session_manager.app import create_app
from session_manager.settings import ManagerSettings

#: Examples per operation and mode (13 positive, 2 negative operations): ~20 s here.
EXAMPLES = 20
_KEY = "fuzz-operator-key-0123456789"
_SECRET = "fuzz-hs256-secret-of-at-least-32-chars"


@pytest.fixture(params=["operator", "user"])
def caller(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def manager_url(
    make_settings: Callable[..., ManagerSettings],
    containers: KatoContainerManager,
    tmp_path: Path,
    caller: str,
) -> Iterator[str]:
    # Room for every session the fuzzer creates: a 503 for capacity would be a server error.
    tokens = {"api_key": _KEY, "jwt_secret": _SECRET} if caller == "user" else {}
    settings = make_settings(
        max_sessions=10_000, spawn_queue=10_000, max_body_bytes=2**16, **tokens
    )
    with ThreadServer(create_app(settings, containers), access_log=False) as server:
        yield server.url


def _headers(caller: str) -> dict[str, str]:
    if caller == "operator":
        return {}
    token = jwt.encode({"sub": "fuzz", "exp": int(time.time()) + 3600}, _SECRET, "HS256")
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_operation_answers_as_documented(manager_url: str, mode: str, caller: str) -> None:
    headers = _headers(caller)
    schema = schemathesis.openapi.from_url(f"{manager_url}/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    generation = schemathesis.GenerationMode(mode)
    # `GET /events` follows its stream for ever (an example would only end at the timeout):
    # tests/unit/session_manager/test_events.py checks its answers, 422s included.
    operations = [op for op in operations if op.label != "GET /events"]
    if generation is schemathesis.GenerationMode.NEGATIVE:
        # Only bounded inputs can be made invalid (free-form path strings cannot).
        operations = [op for op in operations if list(op.query) or list(op.body)]
        assert {op.label for op in operations} == {
            "POST /session/create",
            "GET /sessions",
            "POST /session/import",
            "POST /session/{session_id}/fork",
            "POST /v2/sessions",
            "GET /v2/sessions",
            "POST /v2/sessions/import",
            "POST /v2/sessions/{session_id}/fork",
        }
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=generation))
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=manager_url,
                headers=headers,
                timeout=30,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[accepts_schema_valid_data],
            )

        answers_as_documented()


def accepts_schema_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """`positive_data_acceptance`, but for a refused export document, a cursor the manager did
    not make (session_manager/paging.py) and for the root routes' 422s: a root route passes
    the default session's processor its body as it is, so the processor's own validation
    answers (documented as "the processor's answer")."""
    if response.status_code == 422 and response.json()["error"]["code"] == "KATO_INVALID_EXPORT":
        return None
    if response.status_code == 422 and "cursor" in response.json()["error"]["details"]:
        return None
    if response.status_code == 422 and ROOT_TAG in (case.operation.tags or ()):
        return None
    return positive_data_acceptance(ctx, response, case)
