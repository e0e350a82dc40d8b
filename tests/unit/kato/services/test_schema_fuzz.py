"""Schema fuzzing (schemathesis) of the processor app, in process on the memory store.

Every operation of the OpenAPI document gets generated requests, valid and invalid, checked with
all of schemathesis's default checks (what a user's fuzzer runs): no 5xx, answers as documented
(status, content type, headers, body schema), schema-violating requests refused and schema-valid
ones accepted. Bounded: a fixed number of examples per operation, no shrinking, and a time limit
per operation.

Two rules a JSON schema cannot state, so `positive_data_acceptance` runs as it is except for
their refusals: all vectors of one observation have the same length (spec §2.4, the recommended
hardening of upstream's broadcast error: a 422 whose every error is that rule), and an import
body is an export document (NDJSON, `kato.processor.portability`: 422 `KATO_INVALID_EXPORT`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

import tests.fuzz_support  # noqa: F401  (registers our media types)
from kato.processor import KatoProcessor
from kato.processor.store.memory import MemoryStore
from kato.services.app import create_app
from kato.services.settings import ServiceSettings

EXAMPLES = 25


def _app() -> Any:
    settings_ = ServiceSettings(processor_id="fuzz", LOG_LEVEL="CRITICAL")
    store = MemoryStore()
    return create_app(settings_, lambda s: KatoProcessor(s.processor_config(), store))


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    """One client (and one processor lifespan) for the whole run."""
    with asgi.get_client(APP) as client:
        yield client


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI never meets a new one by chance
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.timeout(30)
def test_processor_api_conforms_to_its_schema(case: Any, session: Any) -> None:
    case.call_and_validate(
        session=session,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[accepts_schema_valid_data],
    )


def accepts_schema_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """`positive_data_acceptance`, but for the refusals of the two rules above."""
    if response.status_code == 422 and _beyond_the_schema(response.json()):
        return None
    return positive_data_acceptance(ctx, response, case)


def _beyond_the_schema(body: Any) -> bool:
    return body["error"]["code"] == "KATO_INVALID_EXPORT" or _only_unequal_vectors(body)


def _only_unequal_vectors(body: Any) -> bool:
    errors = body.get("error", {}).get("details", {}).get("errors", [])
    return bool(errors) and all(e.get("type") == "unequal_vector_lengths" for e in errors)
