"""GET /export and PUT /import between real services (uvicorn subprocesses, SQLite files)."""

from __future__ import annotations

import random
from typing import Any

import httpx
import orjson
import pytest

from kato.services.testing import ServiceProcess
from tests.integration.kato.services.launcher import Launcher
from tests.integration.kato.services.replay import load_cases, replay_case, run_op
from tests.integration.kato.services.snapshot import observable_state, teach

CASES = load_cases()


@pytest.fixture(scope="module")
def pair(module_launcher: Launcher) -> tuple[ServiceProcess, ServiceProcess]:
    """Two services with the same processor id (percept data names it) on their own files."""
    return (
        module_launcher.start(processor_id="portable"),
        module_launcher.start(processor_id="portable"),
    )


def _kinds(export: bytes, *kinds: str) -> list[bytes]:
    return [line for line in export.splitlines() if next(iter(orjson.loads(line))) in kinds]


def test_every_reference_case_survives_export_and_import(
    pair: tuple[ServiceProcess, ServiceProcess],
) -> None:
    original, copy = pair
    with httpx.Client(base_url=original.url, timeout=60) as one, \
            httpx.Client(base_url=copy.url, timeout=60) as two:
        for index, case in enumerate(CASES):
            replay_case(one, case)
            two.post("/observe", json={"strings": ["left-over"]}).raise_for_status()
            answer = two.put("/import", content=one.get("/export").content)
            assert answer.status_code == 200, (case["name"], answer.text)
            assert observable_state(two) == observable_state(one), case["name"]
            if index % 5 == 0:  # and carries on alike (all 75 do in process; here a sample)
                again: list[Any] = [[run_op(h, op) for op in case["ops"]] for h in (one, two)]
                assert again[0] == again[1], case["name"]


def test_refused_imports_change_nothing_and_an_import_survives_a_restart(
    launcher: Launcher,
) -> None:
    source = launcher.start(processor_id="source")
    with httpx.Client(base_url=source.url, timeout=60) as http:
        teach(http, ["a", "b", "c"], ["b", "c", "d"])
        data = http.get("/export").content
    kept = launcher.root / "kept"
    target = launcher.start(data_dir=kept, processor_id="target")
    with httpx.Client(base_url=target.url, timeout=60) as http:
        teach(http, ["x", "y"])
        before = http.get("/export").content
        for offset in random.Random(9).sample(range(len(data)), 10):
            refused = http.put("/import", content=data[:offset])
            assert refused.status_code == 422
            assert refused.json()["error"]["code"] == "KATO_INVALID_EXPORT"
        assert http.get("/export").content == before
        assert http.put("/import", content=data).status_code == 200
    target.stop()
    restarted = launcher.start(data_dir=kept, processor_id="target")
    with httpx.Client(base_url=restarted.url, timeout=60) as http:
        after = http.get("/export").content
    stored = ("totals", "pattern", "symbol")
    assert _kinds(after, *stored) == _kinds(data, *stored)
