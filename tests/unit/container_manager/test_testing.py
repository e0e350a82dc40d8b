"""`container_manager.testing`: what the real-engine suites read of the engine must not race
the manager's background loops (reconcile, the pool, Swarm ending a task)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from docker.errors import NotFound

from container_manager.testing import labelled_containers


class _Engine:
    """Lists three containers; `gone` is removed (by "reconcile") before it is inspected."""

    def __init__(self, gone: str) -> None:
        self.gone = gone
        self.listed: list[dict[str, Any]] = []
        self.api = SimpleNamespace(containers=self._summaries)
        self.containers = SimpleNamespace(get=self._inspect)

    def _summaries(self, all: bool, filters: dict[str, Any]) -> list[dict[str, str]]:
        self.listed.append({"all": all, **filters})
        return [{"Id": "a"}, {"Id": self.gone}, {"Id": "c"}]

    def _inspect(self, container_id: str) -> str:
        if container_id == self.gone:
            raise NotFound(f"No such container: {container_id}")
        return f"container {container_id}"


def test_a_container_removed_between_listing_and_inspection_is_left_out() -> None:
    engine = _Engine(gone="b")
    found = labelled_containers({"kato.test": "run-1"}, engine)  # type: ignore[arg-type]
    assert found == ["container a", "container c"]
    assert engine.listed == [{"all": True, "label": ["kato.test=run-1"]}]


def test_running_only_when_asked() -> None:
    engine = _Engine(gone="none")
    labelled_containers({"k": "v", "w": "x"}, engine, stopped=False)  # type: ignore[arg-type]
    assert engine.listed == [{"all": False, "label": ["k=v", "w=x"]}]
