"""All 75 reference scenarios replayed over real HTTP, in both candidate-search modes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.kato.services.launcher import Launcher
from tests.integration.kato.services.replay import load_cases, replay_case

CASES = load_cases()
EXHAUSTIVE_CASES = [case for case in CASES if "expected_exhaustive" in case]


@pytest.fixture(scope="module")
def indexed(module_launcher: Launcher) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=module_launcher.start().url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def exhaustive(module_launcher: Launcher) -> Iterator[httpx.Client]:
    service = module_launcher.start(KATO_USE_INDEXING="false")
    with httpx.Client(base_url=service.url, timeout=30) as http:
        yield http


def test_all_75_cases_are_present() -> None:
    assert len(CASES) == 75
    assert len(EXHAUSTIVE_CASES) == 4


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reference_case_over_http(indexed: httpx.Client, case: dict[str, Any]) -> None:
    assert replay_case(indexed, case) == case["expected"]


@pytest.mark.parametrize("case", EXHAUSTIVE_CASES, ids=[c["name"] for c in EXHAUSTIVE_CASES])
def test_exhaustive_case_over_http(exhaustive: httpx.Client, case: dict[str, Any]) -> None:
    assert replay_case(exhaustive, case) == case["expected_exhaustive"]
