"""Session benchmark: create→first response, and wake of a hibernated session→first response.

    .venv/bin/python bench/sessions.py [--sessions 10] [--image kato:fastapi]

Starts a real manager (subprocess, temporary state dir, idle timeout 2 s so sessions hibernate
quickly). New: `POST /session/create` then the first `POST /session/<id>/observe`, timed together.
Resume: once every session is hibernated (state saved, container removed), the first
`GET /session/<id>/stm` recreates the container on its volume, restores the state and answers.
Sequential, one session at a time. Everything it makes is labelled and removed at the end.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import docker
import httpx
from harness import percentile, running_manager
from rich.console import Console
from rich.table import Table


def create_and_first_answer(http: httpx.Client) -> tuple[str, float]:
    started = time.perf_counter()
    created = http.post("/session/create", json={})
    created.raise_for_status()
    session_id: str = created.json()["session_id"]
    http.post(f"/session/{session_id}/observe", json={"strings": ["x"]}).raise_for_status()
    return session_id, time.perf_counter() - started


def wait_all_hibernated(http: httpx.Client, labels: dict[str, str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = http.get("/sessions").json()["sessions"]
        if all(s["status"] == "hibernated" for s in sessions) and not remaining(labels):
            return
        time.sleep(0.25)
    raise RuntimeError("sessions did not hibernate in time")


def remaining(labels: dict[str, str]) -> list[str]:
    filters: dict[str, Any] = {"label": [f"{k}={v}" for k, v in labels.items()]}
    return [str(c.name) for c in docker.from_env().containers.list(all=True, filters=filters)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--image", default="kato:fastapi")
    args = parser.parse_args()
    with running_manager(
        KATO_IMAGE=args.image, KATO_IDLE_TIMEOUT="2", KATO_REAP_INTERVAL="0.5", LOG_LEVEL="WARNING"
    ) as (manager, labels):
        with httpx.Client(base_url=manager.url, timeout=120) as http:
            created = [create_and_first_answer(http) for _ in range(args.sessions)]
            wait_all_hibernated(http, labels)
            resumed = []
            for session_id, _ in created:
                started = time.perf_counter()
                answer = http.get(f"/session/{session_id}/stm")
                resumed.append(time.perf_counter() - started)
                assert answer.json()["stm"] == [["x"]], answer.text
        table = Table(title=f"session start-up ({args.sessions} sessions, sequential)")
        for column in ("path", "n", "p50 s", "p95 s", "max s"):
            table.add_column(column, justify="right")
        for name, values in (
            ("create → first response", [t for _, t in created]),
            ("hibernated → first response", resumed),
        ):
            table.add_row(
                name,
                str(len(values)),
                *(
                    f"{v:.3f}"
                    for v in (percentile(values, 50), percentile(values, 95), max(values))
                ),
            )
        Console().print(table)


if __name__ == "__main__":
    main()
