"""The 75 reference scenarios replayed in process on the PostgreSQL store, in both
candidate-search modes: the same answers as on the memory store, and what the server then holds
is exactly what the processor holds (a processor restarted on it would start from the same
memory and short-term state)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kato.processor import KatoProcessor, ProcessorConfig
from kato.processor.store.postgres import PostgresStore, schema_name
from kato.testing.postgres import PostgresServer
from tests.unit.kato.processor.reference_cases import expected_results, load_cases, replay
from tests.unit.kato.processor.test_reference_conformance import InProcessDriver

CASES = load_cases()


@pytest.fixture(scope="module")
def database(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"kato_reference_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.mark.parametrize("exhaustive", [False, True], ids=["prefilter", "exhaustive"])
@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reference_case_on_postgres(
    case: dict[str, Any], exhaustive: bool, database: str, postgres_server: PostgresServer
) -> None:
    processor_id = f"ref-{uuid.uuid4().hex[:12]}"
    driver = InProcessDriver(exhaustive=exhaustive, store=PostgresStore(database, processor_id))
    try:
        assert replay(case, driver) == expected_results(case, exhaustive=exhaustive)
        image = driver.processor.memory_image()
        restarted = KatoProcessor(
            ProcessorConfig("conformance", exhaustive_search=exhaustive),
            PostgresStore(database, processor_id),
        )
        again = restarted.memory_image()
        restarted.close()
        assert (again.patterns, again.symbols, again.totals) == (
            image.patterns, image.symbols, image.totals
        )
        assert again.state == image.state
    finally:
        driver.processor.close()
        postgres_server.admin(
            f'DROP SCHEMA "{schema_name(processor_id)}" CASCADE', database.rsplit("/", 1)[1]
        )
