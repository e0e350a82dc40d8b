"""Schema fuzzing (schemathesis) of the processor app, in process on the memory store.

Every operation of the OpenAPI document gets generated requests, valid and invalid; every answer
must be no 5xx and must conform to the document (status, content type, headers, body schema), and
schema-violating requests must be refused. Bounded: a fixed number of examples per operation, no
shrinking, and a time limit per operation.

One check is left out: ``positive_data_acceptance`` wants a 2xx for every schema-valid request,
but the processor rightly refuses some of those for reasons a JSON schema cannot carry (vectors
of unequal lengths, unknown gene names, the deployment's size limits, a snapshot that is not one).
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
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.timeout(30)
def test_processor_api_conforms_to_its_schema(case: Any, session: Any) -> None:
    case.call_and_validate(session=session, excluded_checks=[positive_data_acceptance])
