"""Helpers shared by the session manager's real-engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker
import httpx

from container_manager.testing import labelled_containers
from kato.web.wait import wait_until
from session_manager.testing import ManagerProcess

__all__ = [
    "containers_of",
    "create_session",
    "memory_of",
    "paused",
    "pool_ready",
    "pooled",
    "session_client",
    "volumes_of",
    "wait_for_status",
    "wait_until",
]


def create_session(http: httpx.Client, **body: object) -> dict[str, Any]:
    answer = http.post("/session/create", json=body)
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


def memory_of(proxied: httpx.Client) -> dict[str, Any]:
    """What a session must keep across hibernation, restarts and crashes."""
    return {
        "stm": proxied.get("/stm").json()["stm"],
        "recall_threshold": proxied.get("/gene/recall_threshold").json()["gene_value"],
        "predictions": proxied.get("/predictions").json()["predictions"],
    }


@contextmanager
def paused(labels: dict[str, str], processor_id: str) -> Iterator[Any]:
    """The processor's container frozen (`docker pause`) for the block."""
    (container,) = containers_of(labels, processor_id)
    container.pause()
    try:
        yield container
    finally:
        container.unpause()


def session_client(manager: ManagerProcess, session_id: str) -> httpx.Client:
    return httpx.Client(base_url=f"{manager.url}/session/{session_id}", timeout=120)


def containers_of(labels: dict[str, str], processor_id: str | None = None) -> list[Any]:
    """Containers with `labels` (and `processor_id`) that exist now; one that a manager's
    background loop removes while they are listed is left out, never an error."""
    wanted = {**labels, **({"kato.processor_id": processor_id} if processor_id else {})}
    return list(labelled_containers(wanted))


def volumes_of(labels: dict[str, str], processor_id: str) -> list[Any]:
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    engine = docker.from_env()
    try:
        return [v for v in engine.volumes.list(filters=filters) if processor_id in v.name]
    finally:
        engine.close()


def pool_ready(manager: ManagerProcess, size: int) -> bool:
    """The manager's pool holds `size` ready processors (its own metric)."""
    with manager.client() as http:
        return f"kato_pool_ready {float(size)}" in http.get("/metrics").text.splitlines()


def pooled(labels: dict[str, str]) -> dict[str, str]:
    """Pooled containers on the engine: processor id → container id."""
    return {
        c.labels["kato.processor_id"]: c.id for c in containers_of({**labels, "kato.pool": "true"})
    }


def wait_for_status(http: httpx.Client, session_id: str, status: str) -> None:
    wait_until(
        f"session {session_id} is {status}",
        lambda: http.get(f"/session/{session_id}").json()["status"] == status,
    )
