"""Small helpers shared by the in-process app tests."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

MakeClient = Callable[..., TestClient]


def observe(client: TestClient, *symbols: str) -> None:
    """One single-symbol observation per symbol."""
    for symbol in symbols:
        assert client.post("/observe", json={"strings": [symbol]}).status_code == 200


def learn_abc(client: TestClient) -> str:
    observe(client, "a", "b", "c")
    name: str = client.post("/learn").json()["pattern_name"]
    return name
