"""Replays all 75 reference scenarios in process, in both candidate-search modes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kato.processor import KatoProcessor, Observation, PatternNotFoundError, ProcessorConfig
from kato.processor.store.base import PatternStore
from kato.processor.store.memory import MemoryStore
from tests.unit.kato.processor.reference_cases import expected_results, load_cases, replay

CASES = load_cases()


class InProcessDriver:
    """Drives a KatoProcessor directly (the HTTP driver lives in the service tests), on a
    MemoryStore unless given another store (the store suites replay the cases through theirs)."""

    def __init__(self, *, exhaustive: bool, store: PatternStore | None = None) -> None:
        config = ProcessorConfig(processor_id="conformance", exhaustive_search=exhaustive)
        self.processor = KatoProcessor(config, store if store is not None else MemoryStore())
        self._ids = itertools.count()

    def observe(
        self, strings: list[str], vectors: list[list[float]], emotives: dict[str, float]
    ) -> str | None:
        observation = Observation(strings, vectors, emotives, f"obs-{next(self._ids)}")
        return self.processor.observe(observation).auto_learned_pattern

    def time(self) -> int:
        return self.processor.time

    def stm(self) -> list[list[str]]:
        return self.processor.stm

    def learn(self) -> str:
        return self.processor.learn()

    def clear_stm(self) -> None:
        self.processor.clear_stm()

    def clear_all(self) -> None:
        self.processor.clear_all()

    def set_genes(self, genes: dict[str, Any]) -> None:
        self.processor.update_genes(genes)

    def predictions(self) -> list[dict[str, Any]]:
        return self.processor.get_predictions()

    def pattern(self, name: str) -> dict[str, Any] | None:
        try:
            return self.processor.get_pattern(name)
        except PatternNotFoundError:
            return None


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reference_case_prefilter(case: dict[str, Any]) -> None:
    assert replay(case, InProcessDriver(exhaustive=False)) == expected_results(
        case, exhaustive=False
    )


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reference_case_exhaustive(case: dict[str, Any]) -> None:
    assert replay(case, InProcessDriver(exhaustive=True)) == expected_results(
        case, exhaustive=True
    )


def test_all_75_cases_are_replayed() -> None:
    assert len(CASES) == 75
    assert sum("expected_exhaustive" in case for case in CASES) == 4
