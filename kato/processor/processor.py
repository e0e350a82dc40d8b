"""KatoProcessor: the facade the service embeds (stub bodies, being filled in)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kato.processor.config import ProcessorConfig
from kato.processor.observation import Observation, ObserveResult
from kato.processor.store.base import PatternStore


class KatoProcessor:
    """One KATO processor. Not thread-safe: the service serialises calls."""

    def __init__(self, config: ProcessorConfig, store: PatternStore) -> None:
        self.processor_id = config.processor_id
        self.name = config.name
        self._config = config
        self._store = store

    def observe(self, obs: Observation) -> ObserveResult:
        raise NotImplementedError

    def learn(self) -> str:
        raise NotImplementedError

    def clear_stm(self) -> None:
        raise NotImplementedError

    def clear_all(self) -> None:
        raise NotImplementedError

    def get_predictions(self, unique_id: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def get_pattern(self, pattern_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def update_genes(self, genes: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def get_gene(self, name: str) -> Any:
        raise NotImplementedError

    @property
    def stm(self) -> list[list[str]]:
        raise NotImplementedError

    @property
    def time(self) -> int:
        raise NotImplementedError

    @property
    def pattern_count(self) -> int:
        raise NotImplementedError

    def percept_data(self) -> dict[str, Any]:
        raise NotImplementedError

    def cognition_data(self) -> dict[str, Any]:
        raise NotImplementedError

    def export_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def import_state(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._store.close()
